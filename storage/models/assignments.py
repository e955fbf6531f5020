"""Assignments (布置作业/学习任务) given to classes, and what students hand in for them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base, Timestamps, UUIDPrimaryKey, utcnow
from storage.models.resources import ByteCount


def _enum(enum: type[StrEnum], length: int = 16) -> Enum:
    return Enum(enum, native_enum=False, length=length)


class Grading(StrEnum):
    level = "level"  # 等级 A/B/C/D
    score = "score"  # a number up to max_score
    none = "none"  # feedback only


class Assignment(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "assignments"

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"), index=True)
    teacher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime]
    submission_required: Mapped[bool] = mapped_column(default=True)
    # Work handed in after due_at is taken (and marked late) only when this is on.
    accept_late: Mapped[bool] = mapped_column(default=False)
    grading: Mapped[Grading] = mapped_column(_enum(Grading), default=Grading.level)
    max_score: Mapped[int | None]


class AssignmentResource(Base):
    __tablename__ = "assignment_resources"

    assignment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(default=0)


class AssignmentClass(Base):
    __tablename__ = "assignment_classes"
    __table_args__ = (Index("ix_assignment_classes_class", "class_id"),)

    assignment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True
    )
    class_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )


class SubmissionStatus(StrEnum):
    submitted = "submitted"
    returned = "returned"  # given back for redo
    graded = "graded"


class Submission(UUIDPrimaryKey, Timestamps, Base):
    """One student's work for one assignment; resubmitting replaces its text and files."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("assignment_id", "student_id"),)

    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The class the student was in when it was given (whose teachers review it).
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[SubmissionStatus] = mapped_column(
        _enum(SubmissionStatus), default=SubmissionStatus.submitted
    )
    attempts: Mapped[int] = mapped_column(default=1)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_late: Mapped[bool] = mapped_column(default=False)
    grade_level: Mapped[str | None] = mapped_column(String(1))
    score: Mapped[float | None]
    feedback: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SubmissionFile(UUIDPrimaryKey, Base):
    __tablename__ = "submission_files"

    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(ByteCount)
    sha256: Mapped[str | None] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(512), unique=True)
    # Photos: an upright, compressed JPEG the worker makes (EXIF orientation applied).
    preview_key: Mapped[str | None] = mapped_column(String(512), unique=True)
    preview_status: Mapped[str] = mapped_column(String(16), default="none")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubmissionFileText(Base):
    """The text the worker read from a handed-in document or photo, for the teachers' search only
    (never the public index). Goes with its file."""

    __tablename__ = "submission_file_texts"

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submission_files.id", ondelete="CASCADE"), primary_key=True
    )
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    # "ready", "failed" (error says why) or "skipped" (nothing to read: OCR off, an unread format).
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    # Whether the text was cut at submission_text_max_chars.
    truncated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
