"""Lesson video: renditions (HLS ladder and storyboard) of a recording, and who watched how much."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base, Timestamps, UUIDPrimaryKey


class RenditionStatus(StrEnum):
    pending = "pending"  # queued
    running = "running"  # being transcoded; progress says how far
    ready = "ready"
    failed = "failed"  # the original still plays; error says why


class VideoRenditions(UUIDPrimaryKey, Timestamps, Base):
    """The streaming renditions of one recording's content: every blob lies under blob_prefix."""

    __tablename__ = "video_renditions"

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_files.id", ondelete="CASCADE"), unique=True
    )
    # The content they were (or are being) made from: a replaced file gets new ones.
    source_blob_key: Mapped[str] = mapped_column(String(512))
    blob_prefix: Mapped[str] = mapped_column(String(256), unique=True)
    status: Mapped[RenditionStatus] = mapped_column(
        Enum(RenditionStatus, native_enum=False, length=16), default=RenditionStatus.pending
    )
    progress: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None]
    # [{"name": "720p", "width": 1280, "height": 720, "video_kbps": 2000, "audio_kbps": 128}, ...]
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {"interval_s", "tile_width", "tile_height", "columns", "rows", "count", "sheets"} or None
    storyboard: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Every blob key written, relative to blob_prefix, so deletion needs no listing.
    files: Mapped[list[str]] = mapped_column(JSON, default=list)


class WatchProgress(UUIDPrimaryKey, Timestamps, Base):
    """What one viewer watched of one recording: the union of the ranges their player reported."""

    __tablename__ = "watch_progress"
    __table_args__ = (
        UniqueConstraint("file_id", "viewer_key"),
        Index("ix_watch_progress_viewer", "viewer_id", "updated_at"),
    )

    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resource_files.id", ondelete="CASCADE"))
    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    # "user:<id>" for people signed in; "guest:<hash>" for share-link guests (never who they are).
    viewer_key: Mapped[str] = mapped_column(String(80))
    viewer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ranges: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    watched_s: Mapped[float] = mapped_column(default=0.0)
    position_s: Mapped[float] = mapped_column(default=0.0)
    duration_s: Mapped[float | None]
    # Rate limiting: reports counted in the current window.
    window_started_at: Mapped[datetime | None]
    window_reports: Mapped[int] = mapped_column(default=0)


class WatchDay(Base):
    """Seconds of new watching per viewer, recording and day: what 观课时长 sums over a period."""

    __tablename__ = "watch_days"
    __table_args__ = (Index("ix_watch_days_day", "day"),)

    viewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource_files.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    seconds: Mapped[float] = mapped_column(default=0.0)
