"""Teaching resources: metadata rows here, their bytes in the blob store under keys Jiaoyun mints."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.database import Base, Timestamps, UUIDPrimaryKey, utcnow
from storage.models.identity import PublicationStatus, Visibility


def _enum(enum: type[StrEnum], length: int = 32) -> Enum:
    return Enum(enum, native_enum=False, length=length)


# Recordings pass 2 GiB, beyond PostgreSQL's integer; SQLite's INTEGER already holds 64 bits.
ByteCount = BigInteger().with_variant(Integer(), "sqlite")


class ResourceType(StrEnum):
    lesson_record = "lesson_record"  # 课例
    micro_lesson = "micro_lesson"  # 微课
    courseware = "courseware"  # 课件
    lesson_plan = "lesson_plan"  # 教案
    study_guide = "study_guide"  # 学案
    assignment = "assignment"  # 作业设计
    exam = "exam"  # 试卷
    research = "research"  # 教研成果


class FilePurpose(StrEnum):
    primary = "primary"  # the video of a round, or the document itself
    subtitle = "subtitle"  # .srt/.vtt for the round's video
    attachment = "attachment"  # anything else that goes with it (slides of a recorded lesson…)


class ProcessingStatus(StrEnum):
    pending = "pending"
    ready = "ready"
    failed = "failed"
    skipped = "skipped"  # stored and served, nothing to extract (an image, a legacy .doc)


class Resource(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "resources"
    __table_args__ = (
        Index("ix_resources_listing", "status", "visibility", "created_at"),
        Index("ix_resources_curriculum", "subject", "grade", "resource_type"),
    )

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    resource_type: Mapped[ResourceType] = mapped_column(_enum(ResourceType))
    stage: Mapped[str | None] = mapped_column(String(8))
    grade: Mapped[int | None]
    subject: Mapped[str | None] = mapped_column(String(32))
    edition: Mapped[str | None] = mapped_column(String(64))
    volume: Mapped[str | None] = mapped_column(String(8))
    unit: Mapped[str | None] = mapped_column(String(100))
    lesson: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    school_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility, 16))
    status: Mapped[PublicationStatus] = mapped_column(_enum(PublicationStatus, 16))
    view_count: Mapped[int] = mapped_column(default=0)
    # view_count as the search index last got it; views only count, a periodic duty reindexes the
    # resources where the two differ, so popularity sorting follows without an index write per view.
    indexed_view_count: Mapped[int] = mapped_column(default=0, server_default="0")
    published_at: Mapped[datetime | None]

    versions: Mapped[list[ResourceVersion]] = relationship(
        back_populates="resource", order_by="ResourceVersion.number", lazy="raise"
    )
    files: Mapped[list[ResourceFile]] = relationship(
        back_populates="resource", order_by="ResourceFile.created_at", lazy="raise"
    )


class ResourceVersion(UUIDPrimaryKey, Base):
    """A round of a resource (磨课: 第1次试课, 第2次…); the newest one is shown by default."""

    __tablename__ = "resource_versions"
    __table_args__ = (UniqueConstraint("resource_id", "number"),)

    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    number: Mapped[int]
    label: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    resource: Mapped[Resource] = relationship(back_populates="versions", lazy="raise")


class ResourceFile(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "resource_files"
    __table_args__ = (Index("ix_resource_files_version", "version_id", "purpose"),)

    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resource_versions.id", ondelete="CASCADE"))
    purpose: Mapped[FilePurpose] = mapped_column(_enum(FilePurpose, 16))
    # The name as the teacher's computer called it, for downloads; never used to build a path or key.
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(ByteCount)
    # Known at once for uploads through the API; computed by processing for direct multipart uploads.
    sha256: Mapped[str | None] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(512), unique=True)
    language: Mapped[str | None] = mapped_column(String(16))

    processing_status: Mapped[ProcessingStatus] = mapped_column(
        _enum(ProcessingStatus, 16), default=ProcessingStatus.pending
    )
    processing_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    poster_key: Mapped[str | None] = mapped_column(String(512), unique=True)
    page_count: Mapped[int | None]

    resource: Mapped[Resource] = relationship(back_populates="files", lazy="raise")
    # Declared so the unit of work inserts a round before its files.
    version: Mapped[ResourceVersion] = relationship(lazy="raise")


class FilePage(Base):
    """Text of one page or slide of a document, kept for search and for showing where a hit is."""

    __tablename__ = "file_pages"

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_files.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # "text": read from the file; "ocr": some or all of it recognised in the page's pictures.
    source: Mapped[str] = mapped_column(String(8), default="text", server_default="text")
    # OCR's mean confidence (0..1); None for text read from the file.
    confidence: Mapped[float | None]


class SubtitleCue(Base):
    __tablename__ = "subtitle_cues"

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_files.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True)
    start_s: Mapped[float]
    end_s: Mapped[float]
    text: Mapped[str] = mapped_column(Text)


class ScreenText(Base):
    """Text on screen in a recorded lesson (a slide, the blackboard), from the second it appears."""

    __tablename__ = "screen_texts"

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_files.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True)
    start_s: Mapped[float]
    end_s: Mapped[float]
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float]
    # A small JPEG of the screen (~10-20 KB; at most a few per minute of video), kept with its row so
    # it lives and dies with it.
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)


class UploadStatus(StrEnum):
    active = "active"  # parts are being uploaded
    completed = "completed"  # assembled and checked; waiting to be attached to a resource
    attached = "attached"  # its blob now belongs to a resource file
    aborted = "aborted"
    expired = "expired"


class UploadSession(UUIDPrimaryKey, Timestamps, Base):
    """A resumable upload, in the database so any API replica can continue it."""

    __tablename__ = "upload_sessions"
    __table_args__ = (Index("ix_upload_sessions_expiry", "status", "expires_at"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(ByteCount)
    part_size: Mapped[int]
    sha256: Mapped[str | None] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(512), unique=True)
    store_upload_id: Mapped[str] = mapped_column(String(1024))
    status: Mapped[UploadStatus] = mapped_column(_enum(UploadStatus, 16), default=UploadStatus.active)
    expires_at: Mapped[datetime]
    # Set on completion: what the bytes turned out to be.
    detected: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Presigned part URLs were handed out: parts may reach the store without passing the API, so
    # only the store can say which are there (otherwise upload_parts records every part).
    direct_parts: Mapped[bool] = mapped_column(default=False, server_default=false())


class UploadPart(Base):
    """A part of a resumable upload as it was stored through the API: the upload's status is answered
    from these rows instead of reading (and hashing) the parts in the store again."""

    __tablename__ = "upload_parts"

    upload_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("upload_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    part_number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int]
    # The store's checksum of the part's bytes (its MD5, as S3 computes ETags), what completing needs.
    etag: Mapped[str] = mapped_column(String(128))
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResourceView(Base):
    """When a viewer (a user, a share link's guest, an address) last counted as a view of a resource,
    so one viewer counts at most once per window, on every API replica alike."""

    __tablename__ = "resource_views"

    resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    # A sha256 hex digest of who viewed: no addresses or link ids at rest.
    viewer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    viewed_at: Mapped[datetime] = mapped_column(index=True)
