"""Approval before district-wide publishing (审核): requests, their audit trail, who reviews what."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.database import Base, UUIDPrimaryKey, utcnow
from storage.models.identity import Visibility


def _enum(enum: type[StrEnum], length: int = 16) -> Enum:
    return Enum(enum, native_enum=False, length=length)


class ReviewState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    returned = "returned"  # 退回修改: the owner changes it and resubmits
    withdrawn = "withdrawn"  # the owner narrowed or deleted it before a decision


class ReviewLevel(StrEnum):
    district = "district"  # research leads of its subject/stage and district admins review it
    school = "school"  # the school requires review of school-wide publishing: its school admins


class ReviewCause(StrEnum):
    publish = "publish"  # published or widened to district/public
    round = "round"  # a new round (磨课) of an approved resource
    file = "file"  # a replaced or added file of an approved resource
    edit = "edit"  # title/description edited (JIAOYUN_REVIEW_ON_EDIT)


class ReviewAction(StrEnum):
    submitted = "submitted"
    resubmitted = "resubmitted"
    updated = "updated"  # another change joined the pending request
    approved = "approved"
    rejected = "rejected"
    returned = "returned"
    withdrawn = "withdrawn"


class ReviewRequest(UUIDPrimaryKey, Base):
    """What a subject (a resource; collections later) asks to be shown to, and the decision on it.
    At most one request per subject is pending; its fields are copied from the subject when it is
    (re)submitted so the queue filters and searches without loading every subject."""

    __tablename__ = "review_requests"
    __table_args__ = (
        Index("ix_review_requests_queue", "state", "level", "submitted_at"),
        Index("ix_review_requests_subject", "subject_type", "subject_id"),
        Index(
            "uq_review_requests_pending",
            "subject_type",
            "subject_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(32))
    stage: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[str | None] = mapped_column(String(32))  # the resource type (课例, 课件…)
    level: Mapped[ReviewLevel] = mapped_column(_enum(ReviewLevel))
    cause: Mapped[ReviewCause] = mapped_column(_enum(ReviewCause))
    requested_visibility: Mapped[Visibility] = mapped_column(_enum(Visibility))
    # Shown meanwhile (and after a rejection): what was already approved, or the school.
    effective_visibility: Mapped[Visibility] = mapped_column(_enum(Visibility))
    state: Mapped[ReviewState] = mapped_column(_enum(ReviewState))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")


class ReviewEvent(UUIDPrimaryKey, Base):
    """The audit trail: who did what to a request, when, why, asked for and granted what."""

    __tablename__ = "review_events"
    __table_args__ = (Index("ix_review_events_request", "request_id", "created_at"),)

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("review_requests.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[ReviewAction] = mapped_column(_enum(ReviewAction))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_visibility: Mapped[Visibility] = mapped_column(_enum(Visibility))
    granted_visibility: Mapped[Visibility] = mapped_column(_enum(Visibility))
    # Decisions only: how long the request had waited since it was last (re)submitted.
    waited_s: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    # Declared so the unit of work inserts a request before its first event.
    request: Mapped[ReviewRequest] = relationship(lazy="raise")


class ReviewLead(UUIDPrimaryKey, Base):
    """A research lead (教研员) reviews the requests of a subject, in one stage or (stage None) all."""

    __tablename__ = "review_leads"
    __table_args__ = (UniqueConstraint("user_id", "subject", "stage"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchoolReviewSetting(Base):
    """A school that wants its own admins to review what its teachers publish to the school."""

    __tablename__ = "school_review_settings"

    school_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    review_required: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
