"""What the showcase's API accepts and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from storage.models.showcase import ExemplaryLevel

LEVEL_LABELS: dict[str, str] = {
    ExemplaryLevel.school: "校级",
    ExemplaryLevel.district: "区级",
    ExemplaryLevel.city: "市级",
}

Year = Annotated[int, Field(ge=2000, le=2100)]


def exemplary_label(level: str | None, year: int | None) -> str | None:
    """2026 年区级优秀课例."""
    if level is None:
        return None
    name = f"{LEVEL_LABELS.get(level, level)}优秀课例"
    return f"{year} 年{name}" if year is not None else name


class ExemplaryMark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: ExemplaryLevel
    # The year of the selection; the current year when left out.
    year: Year | None = None


class ShowcaseRead(BaseModel):
    resource_id: uuid.UUID
    exemplary_level: ExemplaryLevel | None = None
    exemplary_year: int | None = None
    # "2026 年区级优秀课例"
    exemplary_label: str | None = None
    marked_by_id: uuid.UUID | None = None
    marked_at: datetime | None = None
    featured: bool = False
    featured_by_id: uuid.UUID | None = None
    featured_at: datetime | None = None


class ShowcaseItem(BaseModel):
    """A featured or exemplary resource, as lists show it."""

    resource_id: uuid.UUID
    title: str
    resource_type: str
    subject: str | None
    grade: int | None
    exemplary_level: ExemplaryLevel | None
    exemplary_year: int | None
    exemplary_label: str | None
    featured: bool
