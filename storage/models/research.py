"""Teaching research: topic threads (专题研讨), lesson review (观课议课, 磨课), rubrics, notifications."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base, Timestamps, UUIDPrimaryKey, utcnow
from storage.models.identity import PublicationStatus, Visibility


def _enum(enum: type[StrEnum], length: int = 16) -> Enum:
    return Enum(enum, native_enum=False, length=length)


class TopicState(StrEnum):
    open = "open"
    summarized = "summarized"  # a summary is written; replies still welcome
    closed = "closed"  # summarized and closed to new posts


class Topic(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "topics"
    __table_args__ = (Index("ix_topics_listing", "pinned", "last_activity_at"),)

    title: Mapped[str] = mapped_column(String(200))
    # Markdown as written; rendered to safe HTML on the way out.
    body: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    school_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility))
    # Topics are published when opened; the column lets authz treat them like every governed object.
    status: Mapped[PublicationStatus] = mapped_column(
        _enum(PublicationStatus), default=PublicationStatus.published
    )
    state: Mapped[TopicState] = mapped_column(_enum(TopicState), default=TopicState.open)
    grades: Mapped[list[int]] = mapped_column(JSON, default=list)
    subjects: Mapped[list[str]] = mapped_column(JSON, default=list)
    pinned: Mapped[bool] = mapped_column(default=False)
    summary: Mapped[str | None] = mapped_column(Text)
    summarized_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    summarized_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    post_count: Mapped[int] = mapped_column(default=0)


class TopicResource(Base):
    """A resource a topic discusses (a lesson recording, a lesson plan…)."""

    __tablename__ = "topic_resources"

    topic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Post(UUIDPrimaryKey, Timestamps, Base):
    """A reply in a topic; replies to replies hang off the top-level post (one level of nesting)."""

    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_topic", "topic_id", "created_at"),)

    topic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    body: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime | None]
    # Deleted posts keep their place in the thread, without their words.
    deleted_at: Mapped[datetime | None]
    deleted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Revision(UUIDPrimaryKey, Base):
    """What an edited topic, post or review comment was before one edit."""

    __tablename__ = "revisions"
    __table_args__ = (Index("ix_revisions_object", "object_type", "object_id", "created_at"),)

    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[uuid.UUID]
    # The body before the edit, whether or not the edit changed it.
    body: Mapped[str] = mapped_column(Text)
    # The earlier values of the other fields the edit changed (a topic's title, grades, subjects,
    # visibility; a comment's start_s, end_s, category_id), as JSON values.
    previous_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    editor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ObservationCategory(UUIDPrimaryKey, Base):
    """A heading of the district's observation framework (教学目标, 师生互动 …), editable by the district."""

    __tablename__ = "observation_categories"

    name: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class ReviewComment(UUIDPrimaryKey, Timestamps, Base):
    """A colleague's remark on one round of a recorded lesson, at a moment or over a stretch of it."""

    __tablename__ = "review_comments"
    __table_args__ = (Index("ix_review_comments_timeline", "version_id", "start_s"),)

    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resource_versions.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("review_comments.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("observation_categories.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class Rubric(UUIDPrimaryKey, Timestamps, Base):
    """An observation rubric (观察量表) defined by the district."""

    __tablename__ = "rubrics"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class RubricCriterion(UUIDPrimaryKey, Base):
    __tablename__ = "rubric_criteria"
    __table_args__ = (UniqueConstraint("rubric_id", "position"),)

    rubric_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rubrics.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    min_score: Mapped[int] = mapped_column(default=0)
    max_score: Mapped[int]


class RubricScore(Base):
    """One reviewer's score for one criterion on one round; scoring again replaces it."""

    __tablename__ = "rubric_scores"

    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_versions.id", ondelete="CASCADE"), primary_key=True
    )
    reviewer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    criterion_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rubric_criteria.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    score: Mapped[int]
    # When the reviewer first scored this criterion on this round; scoring again keeps it, so activity
    # is counted where it happened rather than moving to the period of the latest correction.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NotificationKind(StrEnum):
    mention = "mention"
    reply = "reply"
    lesson_comment = "lesson_comment"  # a new comment on my lesson recording
    topic_summarized = "topic_summarized"
    # The students' half: a task given to my class, my work graded or given back for redo.
    assignment_given = "assignment_given"
    submission_reviewed = "submission_reviewed"
    submission_returned = "submission_returned"
    # Collections (专题资源包): an item added to one I follow.
    collection_item_added = "collection_item_added"
    review_decided = "review_decided"  # my publishing request was approved, rejected or returned


class Notification(UUIDPrimaryKey, Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_inbox", "user_id", "read_at", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind, 32))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What it is about: ids a client needs to link to it (topic_id, post_id, resource_id, comment_id…).
    subject: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
