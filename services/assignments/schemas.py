"""Pydantic shapes of assignments and submissions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from services.schemas import Omittable
from services.viewing.schemas import TaskVideo, VideoProgress
from storage.models.assignments import Grading, SubmissionStatus

GradeLevel = Literal["A", "B", "C", "D"]
# What a student's task is to them: still to do, past its due time undone, handed in, given back.
TaskState = Literal["due", "overdue", "done", "returned"]
# What the roster says about a student's work; "watched": nothing handed in for a task that asks for
# none, and every video of it watched (services.viewing.service.FINISHED_AT of its duration).
RosterState = Literal["submitted", "late", "missing", "returned", "graded", "watched"]


def _in_utc_range(value: datetime | None) -> datetime | None:
    """A moment that stays within years 1–9999 once in UTC (else it cannot be stored or compared)."""
    if value is not None:
        try:
            value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("due_at is out of range") from exc
    return value


class AssignmentCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field("", max_length=20_000)
    resource_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    class_ids: list[uuid.UUID] = Field(min_length=1, max_length=30)
    due_at: AwareDatetime
    submission_required: bool = True
    accept_late: bool | None = Field(None, description="Default: the server's accept_late_submissions")
    grading: Grading = Grading.level
    max_score: int | None = Field(None, ge=1, le=1000, description="For grading=score; default 100")

    _due_in_range = field_validator("due_at")(_in_utc_range)


class AssignmentUpdate(BaseModel):
    title: Omittable[str] = Field(None, min_length=1, max_length=200)
    instructions: Omittable[str] = Field(None, max_length=20_000)
    due_at: Omittable[AwareDatetime] = None
    accept_late: Omittable[bool] = None

    _due_in_range = field_validator("due_at")(_in_utc_range)


class NamedRef(BaseModel):
    id: uuid.UUID
    name: str


class ResourceRef(BaseModel):
    id: uuid.UUID
    title: str
    resource_type: str


class MyTask(BaseModel):
    state: TaskState
    submission_id: uuid.UUID | None
    grade_level: str | None
    score: float | None
    # Per video of the task (AssignmentRead.videos), how far the student got.
    watch: list[VideoProgress] = Field(default_factory=list)


class AssignmentRead(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    title: str
    instructions: str
    due_at: datetime
    submission_required: bool
    accept_late: bool
    grading: Grading
    max_score: int | None
    teacher: NamedRef
    classes: list[NamedRef]
    resources: list[ResourceRef]
    # The recordings to watch (微课): each video resource's newest round.
    videos: list[TaskVideo] = Field(default_factory=list)
    created_at: datetime
    # For students: where they stand with it.
    mine: MyTask | None = None


class SubmissionFileRead(BaseModel):
    id: uuid.UUID
    filename: str
    format: str
    media_type: str
    category: str
    size: int
    content_url: str
    preview_url: str | None


class SubmissionRead(BaseModel):
    id: uuid.UUID
    assignment_id: uuid.UUID
    student: NamedRef
    class_id: uuid.UUID
    text: str
    status: SubmissionStatus
    attempts: int
    submitted_at: datetime
    is_late: bool
    grade_level: str | None
    score: float | None
    feedback: str
    reviewed_at: datetime | None
    files: list[SubmissionFileRead]


class SubmissionJson(BaseModel):
    """A submission as JSON: text and completed resumable uploads (for big recordings)."""

    text: str = Field("", max_length=20_000)
    upload_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10)


class Review(BaseModel):
    grade_level: GradeLevel | None = None
    score: float | None = Field(None, ge=0, le=1000)
    feedback: str = Field("", max_length=10_000)
    return_for_redo: bool = False

    @model_validator(mode="after")
    def _one_grade(self) -> Review:
        if self.grade_level is not None and self.score is not None:
            raise ValueError("Give a grade level or a score, not both")
        return self


class RosterEntry(BaseModel):
    student: NamedRef
    class_id: uuid.UUID
    state: RosterState
    submission_id: uuid.UUID | None
    submitted_at: datetime | None
    grade_level: str | None
    score: float | None
    # Per video of the assignment (Roster.videos), how far the student got.
    watch: list[VideoProgress] = Field(default_factory=list)
    # Where the search words (q) were found in the work: a short excerpt and the file's name.
    snippet: str | None = None
    snippet_file: str | None = None


class ClassSummary(BaseModel):
    class_id: uuid.UUID
    name: str
    students: int
    submitted: int
    late: int
    missing: int
    returned: int
    graded: int
    completion: float
    grade_distribution: dict[str, int]
    average_score: float | None
    watched: int = 0
    # Students who watched every video of the task, and the mean share of them watched; None when
    # the task has no video.
    finished_watching: int | None = None
    average_watched: float | None = None


class Roster(BaseModel):
    assignment_id: uuid.UUID
    videos: list[TaskVideo] = Field(default_factory=list)
    classes: list[ClassSummary]
    entries: list[RosterEntry]


class SubmissionHit(BaseModel):
    """A submission found by a teacher's search, with where the words were found."""

    submission_id: uuid.UUID
    assignment: NamedRef
    student: NamedRef
    in_class: NamedRef
    status: SubmissionStatus
    submitted_at: datetime
    # "words": in the text handed in or read from a file; "name": the student's name.
    matched: Literal["words", "name"]
    snippet: str | None
    # The file the words were read from (None: the text typed in).
    snippet_file: str | None
