"""Watch reports in, progress and statistics out."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class WatchReport(BaseModel):
    # [start_s, end_s] pairs played since the last report.
    ranges: list[tuple[float, float]] = Field(default_factory=list, max_length=100)
    position_s: float = Field(ge=0, le=24 * 3600)
    # Share-link guests and anonymous viewers: a random id their browser keeps; never stored as is.
    guest_id: str | None = Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class WatchProgressRead(BaseModel):
    position_s: float
    watched_s: float
    duration_s: float | None
    # Share of the recording watched, 0–1.
    completion: float


class WatchStats(BaseModel):
    version: int
    file_id: uuid.UUID
    duration_s: float | None
    viewers: int
    # Of the viewers, share-link guests (counted, never named).
    guests: int
    total_watch_s: float
    average_completion: float
    # Share of viewers who watched each 5 % point of the recording (21 values, 0 % … 100 %).
    retention: list[float]


class StudentProgress(BaseModel):
    student_id: uuid.UUID
    display_name: str
    watched_s: float
    completion: float
    finished: bool
    position_s: float


class StudentProgressRead(BaseModel):
    version: int
    duration_s: float | None
    students: list[StudentProgress]


class TaskVideo(BaseModel):
    """A recording an assignment gives to watch: its resource's newest round's video."""

    resource_id: uuid.UUID
    file_id: uuid.UUID
    duration_s: float | None


class VideoProgress(BaseModel):
    """How far one student got in one such recording."""

    resource_id: uuid.UUID
    watched_s: float
    # Share of the duration watched (the union of the ranges played), 0–1.
    completion: float
    finished: bool
