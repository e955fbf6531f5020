"""What the collections API accepts and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.resources import curriculum
from services.schemas import Omittable
from storage.models.identity import Visibility

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=5_000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]


def _subject(value: str | None) -> str | None:
    return curriculum.canonical_subject(value) if value else None


Subject = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32), AfterValidator(_subject)]
Stage = Literal["小学", "初中", "高中"]


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    subject: Subject | None = None
    stage: Stage | None = None
    # district/public from anyone but a district admin is requested, pending review; the collection
    # starts private meanwhile.
    visibility: Visibility = Visibility.private


class CollectionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Omittable[Title] = None
    description: Omittable[Description] = None
    subject: Subject | None = None
    stage: Stage | None = None
    visibility: Omittable[Visibility] = None


class ItemAdd(BaseModel):
    """One resource or one research topic; at the end unless a position (0 = first) is given."""

    model_config = ConfigDict(extra="forbid")

    resource_id: uuid.UUID | None = None
    topic_id: uuid.UUID | None = None
    note: Note = ""
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None

    @model_validator(mode="after")
    def _one_thing(self) -> ItemAdd:
        if (self.resource_id is None) == (self.topic_id is None):
            raise ValueError("name exactly one of resource_id and topic_id")
        return self


class ItemMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Annotated[int, Field(ge=0, le=10_000)]


class ItemOrder(BaseModel):
    """Every item of the collection, once each, in the new order."""

    model_config = ConfigDict(extra="forbid")

    item_ids: Annotated[list[uuid.UUID], Field(max_length=1_000)]


class DeclineReason(BaseModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1_000)]


class CollectionItemRead(BaseModel):
    id: uuid.UUID
    position: int
    kind: Literal["resource", "topic"]
    resource_id: uuid.UUID | None = None
    topic_id: uuid.UUID | None = None
    title: str
    resource_type: str | None = None
    subject: str | None = None
    grade: int | None = None
    note: str = ""
    # A recording with a video: played in order on the collection's page.
    playable: bool = False
    # 2026 年区级优秀课例, when the resource is one.
    exemplary_label: str | None = None


class CollectionPermissions(BaseModel):
    edit: bool
    follow: bool


class CollectionRead(BaseModel):
    id: uuid.UUID
    title: str
    description: str
    subject: str | None
    stage: str | None
    owner_id: uuid.UUID
    owner_name: str
    school_id: uuid.UUID | None
    visibility: Visibility
    # Widening waiting for review (district/public), shown to those who may edit it.
    requested_visibility: Visibility | None = None
    review_state: Literal["pending", "declined"] | None = None
    declined_reason: str | None = None
    cover_url: str | None
    # Items this reader may open (all of them, for most readers).
    item_count: int
    follower_count: int
    following: bool
    permissions: CollectionPermissions
    created_at: datetime
    updated_at: datetime


class CollectionDetail(CollectionRead):
    items: list[CollectionItemRead]
