"""What the topic-thread API accepts and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.resources import curriculum
from storage.models.identity import Visibility
from storage.models.research import TopicState

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Markdown as written (leading indentation matters to Markdown, so only emptiness is refused).
TopicBody = Annotated[str, Field(min_length=1, max_length=50_000)]
PostBody = Annotated[str, Field(min_length=1, max_length=20_000)]
Grade = Annotated[int, Field(ge=1, le=12)]
ResourceIds = Annotated[list[uuid.UUID], Field(max_length=20)]


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be empty")
    return value


def _sorted_grades(value: list[int] | None) -> list[int] | None:
    return sorted(set(value)) if value is not None else None


def _normalized_subjects(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return list(dict.fromkeys(curriculum.normalize_subject(subject) for subject in value))


def _shared(value: Visibility | None) -> Visibility | None:
    # Topics are discussions among colleagues: never private.
    if value == Visibility.private:
        raise ValueError("a topic is visible to its school, the district or the public, never private")
    return value


def _unique_ids(value: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
    return list(dict.fromkeys(value)) if value is not None else None


class TopicCreate(BaseModel):
    title: Title
    body: TopicBody
    grades: Annotated[list[Grade], Field(max_length=12)] = Field(default_factory=list)
    subjects: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=24)] = Field(
        default_factory=list
    )
    resource_ids: ResourceIds = Field(default_factory=list)
    visibility: Visibility = Visibility.school

    _body = field_validator("body")(_not_blank)
    _grades = field_validator("grades")(_sorted_grades)
    _subjects = field_validator("subjects")(_normalized_subjects)
    _resource_ids = field_validator("resource_ids")(_unique_ids)
    _visibility = field_validator("visibility")(_shared)


class TopicUpdate(BaseModel):
    title: Title | None = None
    body: TopicBody | None = None
    grades: Annotated[list[Grade], Field(max_length=12)] | None = None
    subjects: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=24)] | None = None
    resource_ids: ResourceIds | None = None
    visibility: Visibility | None = None

    _body = field_validator("body")(_not_blank)
    _grades = field_validator("grades")(_sorted_grades)
    _subjects = field_validator("subjects")(_normalized_subjects)
    _resource_ids = field_validator("resource_ids")(_unique_ids)
    _visibility = field_validator("visibility")(_shared)


class SummaryCreate(BaseModel):
    summary: TopicBody
    # True: closed to new posts. False: summarized, replies still welcome (also reopens a closed topic).
    close: bool = True

    _summary = field_validator("summary")(_not_blank)


class PostCreate(BaseModel):
    body: PostBody
    # A top-level post of the same topic; a reply to a reply hangs off that reply's top-level post.
    parent_id: uuid.UUID | None = None

    _body = field_validator("body")(_not_blank)


class PostUpdate(BaseModel):
    body: PostBody

    _body = field_validator("body")(_not_blank)


class UserBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str


class LinkedResource(BaseModel):
    id: uuid.UUID
    title: str


class TopicSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    grades: list[int]
    subjects: list[str]
    visibility: Visibility
    state: TopicState
    pinned: bool
    owner_id: uuid.UUID
    school_id: uuid.UUID | None
    post_count: int
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime
    summarized_at: datetime | None


class PostRead(BaseModel):
    id: uuid.UUID
    topic_id: uuid.UUID
    parent_id: uuid.UUID | None
    author: UserBrief | None
    # None once deleted: the post keeps its place in the thread, without its words.
    body: str | None
    body_html: str | None
    deleted: bool
    created_at: datetime
    edited_at: datetime | None
    # Replies to a top-level post, oldest first; always empty on a reply (one level of nesting).
    replies: list[PostRead] = Field(default_factory=list)


class TopicPermissions(BaseModel):
    """What the caller may do here, so a client shows only the buttons that work."""

    edit: bool
    delete: bool
    post: bool
    moderate: bool
    summarize: bool


class TopicRead(TopicSummary):
    body: str
    body_html: str
    author: UserBrief | None
    summary: str | None
    summary_html: str | None
    summarized_by_id: uuid.UUID | None
    # Only the linked resources the caller may open.
    resources: list[LinkedResource]
    # The author and everyone who posted.
    participant_count: int
    posts: list[PostRead]
    permissions: TopicPermissions
