"""The showcase (优秀课例, featured resources): marks reviewers put on resources, with who and when."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base


class ExemplaryLevel(StrEnum):
    school = "school"  # 校级
    district = "district"  # 区级
    city = "city"  # 市级


class ShowcaseMark(Base):
    """One row per marked resource: its exemplary level and year, and whether it is featured.

    The row goes when neither is left (unmarked and unfeatured); each half keeps who set it and when.
    """

    __tablename__ = "showcase_marks"
    __table_args__ = (
        Index("ix_showcase_marks_featured", "featured_at"),
        Index("ix_showcase_marks_exemplary", "exemplary_level", "exemplary_year"),
    )

    resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    exemplary_level: Mapped[ExemplaryLevel | None] = mapped_column(
        Enum(ExemplaryLevel, native_enum=False, length=16)
    )
    exemplary_year: Mapped[int | None]
    marked_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    marked_at: Mapped[datetime | None]
    # Featured on the home page since featured_at (None: not featured).
    featured_at: Mapped[datetime | None]
    featured_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
