"""Review requests, decisions, research leads and school settings, as the API shows and takes them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from storage.models.identity import Visibility
from storage.models.review import ReviewAction, ReviewCause, ReviewLevel, ReviewState


class ReviewEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: ReviewAction
    actor_id: uuid.UUID | None
    actor_name: str | None = None
    reason: str
    requested_visibility: Visibility
    granted_visibility: Visibility
    waited_s: float | None
    created_at: datetime


class ReviewRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subject_type: str
    subject_id: uuid.UUID
    subject_url: str | None = None
    owner_id: uuid.UUID
    owner_name: str | None = None
    school_id: uuid.UUID | None
    school_name: str | None = None
    title: str
    subject: str | None
    stage: str | None
    kind: str | None
    level: ReviewLevel
    cause: ReviewCause
    requested_visibility: Visibility
    effective_visibility: Visibility
    state: ReviewState
    submitted_at: datetime
    decided_at: datetime | None
    decided_by_id: uuid.UUID | None
    reason: str


class ReviewRequestDetail(ReviewRequestRead):
    events: list[ReviewEventRead]
    # For the person asking: may they approve/reject/return it, or resubmit it.
    can_decide: bool
    can_resubmit: bool


class SubjectReview(BaseModel):
    """A subject's review as its owner (and its reviewers) see it: its latest request, if any."""

    request: ReviewRequestDetail | None


class Decision(BaseModel):
    """Approving may say why; rejecting and returning must."""

    reason: str = Field(default="", max_length=2000)

    @field_validator("reason")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()


class ReasonedDecision(Decision):
    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("A reason is required, so the owner knows what to change")
        return value.strip()


class Resubmission(BaseModel):
    note: str = Field(default="", max_length=2000)


class QueueCount(BaseModel):
    pending: int


class ReviewLeadCreate(BaseModel):
    user_id: uuid.UUID
    subject: str = Field(min_length=1, max_length=32)
    # None: every stage of the subject.
    stage: str | None = Field(default=None, min_length=1, max_length=8)


class ReviewLeadRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    username: str
    display_name: str
    subject: str
    stage: str | None


class SchoolReviewRead(BaseModel):
    school_id: uuid.UUID
    review_required: bool


class SchoolReviewUpdate(BaseModel):
    review_required: bool


class ReviewCounts(BaseModel):
    submissions: int = 0
    approvals: int = 0
    rejections: int = 0
    returns: int = 0
    median_review_s: float | None = None


class SchoolReviewCounts(ReviewCounts):
    school_id: uuid.UUID | None
    school_name: str | None


class SubjectReviewCounts(ReviewCounts):
    subject: str | None


class ReviewStats(BaseModel):
    school_id: uuid.UUID | None
    since: datetime | None
    until: datetime | None
    totals: ReviewCounts
    schools: list[SchoolReviewCounts]
    subjects: list[SubjectReviewCounts]
