"""What the API says about a recording's renditions."""

from __future__ import annotations

from pydantic import BaseModel

from storage.models.video import RenditionStatus


class RenditionRead(BaseModel):
    name: str
    width: int
    height: int
    bandwidth: int


class StoryboardRead(BaseModel):
    url: str
    interval_s: float
    tile_width: int
    tile_height: int
    count: int


class RenditionsRead(BaseModel):
    status: RenditionStatus
    # 0–100 while running; 100 once ready.
    progress: int
    error: str | None
    duration_s: float | None
    renditions: list[RenditionRead]
    # The HLS master playlist, once ready (share-link query included when asked with one).
    master_url: str | None
    storyboard: StoryboardRead | None
