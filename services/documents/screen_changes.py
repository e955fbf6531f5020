"""Which frames of a recording show a new screen (a slide, the blackboard written on): the cheap half
of reading the text on screen, made to run inside the transcode's decode loop.

It sees the decoded frames as they pass (see services.video.transcode's frame observer), looks at
one every SAMPLE_S seconds of video as a 96×54 grey signature (one small swscale conversion, so the
transcode barely notices it), and keeps a frame whose signature differs enough from the last screen
kept, once the picture has settled (the same at the next sample: a slide fading in is kept when the
fade is over, dated from the first sample showing it). Kept frames are written as JPEGs named by the
millisecond they appear, at most one every MIN_GAP_S seconds and MIN_SCREENS + MAX_SCREENS_PER_HOUR
per hour of video so far. Reading their text (OCR, seconds each) is a job of its own afterwards:
services.documents.screens.

The same detector runs over keyframes only when no transcode decodes the video (the fallback in
services.documents.screens), without waiting for pictures to settle: keyframes are seconds apart.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.frame import VideoFrame

logger = logging.getLogger(__name__)

# Where the kept frames go, under the transcode's output (and so under the renditions' blob prefix).
SCREENS_DIR = "screens"
# One frame in this many seconds of video is looked at.
SAMPLE_S = 1.0
# At most one screen every this many seconds of video, and this many per hour of it (after the
# first MIN_SCREENS, which short videos get whatever the hourly rate).
MIN_GAP_S = 3.0
MAX_SCREENS_PER_HOUR = 120
MIN_SCREENS = 10
# The screen changed when this share of its 96×54 grey signature's pixels changed by more than
# PIXEL_CHANGE (0..1): new text on a slide of the same template changes few pixels, but strongly;
# sensor noise and compression change many, slightly.
CHANGED_SHARE = 0.004
PIXEL_CHANGE = 0.15
SIGNATURE_SIZE = (96, 54)
# Kept frames are scaled down to this width: slide text stays legible to OCR, the files small.
KEPT_WIDTH = 1280
KEPT_QUALITY = 88
_NAME = re.compile(rf"^{SCREENS_DIR}/(\d{{9}})\.jpg$")


def frame_name(start_s: float) -> str:
    """The kept frame's name, relative to the directory given to ScreenChanges's parent."""
    return f"{SCREENS_DIR}/{round(start_s * 1000):09d}.jpg"


def start_of(name: str) -> float | None:
    """The second a kept frame's screen appears, from its name; None for any other file."""
    match = _NAME.match(name)
    return int(match.group(1)) / 1000 if match else None


def signature(frame: VideoFrame) -> np.ndarray:
    grey = frame.reformat(width=SIGNATURE_SIZE[0], height=SIGNATURE_SIZE[1], format="gray")
    return np.asarray(grey.to_ndarray(), dtype=np.float32) / 255.0


def changed(current: np.ndarray, last: np.ndarray | None) -> bool:
    return last is None or float((np.abs(current - last) > PIXEL_CHANGE).mean()) > CHANGED_SHARE


@dataclass
class _Candidate:
    time_s: float
    signature: np.ndarray


class ScreenChanges:
    """A frame observer: call it with each decoded frame and its second; the frames of new screens
    are written under ``output / SCREENS_DIR`` and listed in ``kept`` as (second, path)."""

    def __init__(self, output: Path, *, every_s: float = SAMPLE_S, settle: bool = True) -> None:
        self.output = output
        self.every_s = every_s
        self.settle = settle
        self.kept: list[tuple[float, Path]] = []
        self._next_sample_s = float("-inf")
        self._kept_signature: np.ndarray | None = None
        self._kept_s = float("-inf")
        # A change seen at the last sample, waiting for the picture to settle.
        self._candidate: _Candidate | None = None

    def __call__(self, frame: VideoFrame, time_s: float) -> None:
        if time_s < self._next_sample_s:
            return
        self._next_sample_s = time_s + self.every_s - 1e-6
        try:
            self._look(frame, time_s)
        except (OSError, ValueError, av.FFmpegError):
            # The transcode must not fail for the screen text: what was kept so far is read.
            logger.warning("Screen changes: stopped looking at %.1f s", time_s, exc_info=True)
            self._next_sample_s = float("inf")

    def _look(self, frame: VideoFrame, time_s: float) -> None:
        current = signature(frame)
        if not changed(current, self._kept_signature):
            self._candidate = None  # (back to) the screen last kept
            return
        candidate, self._candidate = self._candidate, _Candidate(time_s, current)
        if self.settle and (candidate is None or changed(current, candidate.signature)):
            return  # a change just seen, or the picture still moving
        start_s = candidate.time_s if self.settle and candidate is not None else time_s
        if start_s - self._kept_s < MIN_GAP_S or not self._allowed(start_s):
            return  # looked at again at the next sample, as the candidate it now is
        self._keep(frame, start_s, current)
        self._candidate = None

    def _allowed(self, start_s: float) -> bool:
        return len(self.kept) < MIN_SCREENS + MAX_SCREENS_PER_HOUR * start_s / 3600

    def _keep(self, frame: VideoFrame, start_s: float, current: np.ndarray) -> None:
        width = min(KEPT_WIDTH, frame.width - frame.width % 2)
        height = max(2, round(frame.height * width / frame.width))
        picture = frame.reformat(width=width, height=height, format="rgb24").to_image()  # type: ignore[no-untyped-call]
        path = self.output / frame_name(start_s)
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path, format="JPEG", quality=KEPT_QUALITY)
        self.kept.append((start_s, path))
        self._kept_signature, self._kept_s = current, start_s
