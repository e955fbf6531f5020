"""What the API says about text read from recordings."""

from __future__ import annotations

from pydantic import BaseModel


class ScreenRead(BaseModel):
    """Text on screen in a recorded lesson (a slide, the blackboard), read by OCR."""

    number: int
    # From the second it first appears until the screen changes.
    start_s: float
    end_s: float
    text: str
    # OCR's mean confidence (0..1).
    confidence: float
    # A small JPEG of the screen.
    thumbnail_url: str
