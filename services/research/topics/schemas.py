"""What the topic-thread API accepts and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.resources import curriculum
from storage.models.identity import Visibility
from storage.models.research import TopicState


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _sorted_grades(value: list[int]) -> list[int]:
    return sorted(set(value))


def _normalized_subjects(value: list[str]) -> list[str]:
    return list(dict.fromkeys(curriculum.normalize_subject(subject) for subject in value))


def _shared(value: Visibility) -> Visibility:
    # Topics are discussions among colleagues: never private.
    if value == Visibility.private:
        raise ValueError("a topic is visible to its school, the district or the public, never private")
    return value


def _unique_ids(value: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(value))


# Each type carries its rule, so a topic is checked alike when it is opened and when it is edited.
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Markdown as written (leading indentation matters to Markdown, so only emptiness is refused).
TopicBody = Annotated[str, Field(min_length=1, max_length=50_000), AfterValidator(_not_blank)]
PostBody = Annotated[str, Field(min_length=1, max_length=20_000), AfterValidator(_not_blank)]
Grade = Annotated[int, Field(ge=1, le=12)]
Grades = Annotated[list[Grade], Field(max_length=12), AfterValidator(_sorted_grades)]
Subjects = Annotated[
    list[Annotated[str, Field(max_length=32)]], Field(max_length=24), AfterValidator(_normalized_subjects)
]
ResourceIds = Annotated[list[uuid.UUID], Field(max_length=20), AfterValidator(_unique_ids)]
SharedVisibility = Annotated[Visibility, AfterValidator(_shared)]


class TopicCreate(BaseModel):
    title: Title
    body: TopicBody
    grades: Grades = Field(default_factory=list)
    subjects: Subjects = Field(default_factory=list)
    resource_ids: ResourceIds = Field(default_factory=list)
    visibility: SharedVisibility = Visibility.school


class TopicUpdate(BaseModel):
    title: Title | None = None
    body: TopicBody | None = None
    grades: Grades | None = None
    subjects: Subjects | None = None
    resource_ids: ResourceIds | None = None
    visibility: SharedVisibility | None = None


class SummaryCreate(BaseModel):
    summary: TopicBody
    # True: closed to new posts. False: summarized, replies still welcome (also reopens a closed topic).
    close: bool = True


class PostCreate(BaseModel):
    body: PostBody
    # A top-level post of the same topic; a reply to a reply hangs off that reply's top-level post.
    parent_id: uuid.UUID | None = None


class PostUpdate(BaseModel):
    body: PostBody


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
