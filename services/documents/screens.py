"""Text on screen in a recorded lesson: the slides and the blackboard, with the second they appear.

Only keyframes are decoded (encoders put one at every scene cut, and at least every few seconds),
so reading an hour of video costs seconds of decoding, not a full decode. A keyframe whose small
grey signature differs enough from the last screen read is a new screen; it is OCR'd if at least
MIN_GAP_S passed since the last OCR and the per-hour cap allows. Repeats (the same slide shown again
after a close-up of the teacher) are merged into one screen.

Run in a child process (FFmpeg and OCR on uploaded files, time-limited by the caller):
`python -m services.documents.screens VIDEO OUTDIR` writes OUTDIR/screens.json and one JPEG
thumbnail per screen.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from av.video.stream import VideoStream
from PIL import Image

from services.documents import ocr, quality
from services.documents.base import ExtractionError, normalize_text

logger = logging.getLogger(__name__)

# At most one OCR every this many seconds of video, and this many screens per hour of it.
MIN_GAP_S = 3.0
MAX_SCREENS_PER_HOUR = 120
MIN_SCREENS = 10
# The screen changed when this share of its 96×54 grey signature's pixels changed by more than
# PIXEL_CHANGE (0..1): new text on a slide of the same template changes few pixels, but strongly;
# sensor noise and compression change many, slightly.
CHANGED_SHARE = 0.004
PIXEL_CHANGE = 0.15
SIGNATURE_SIZE = (96, 54)
# Texts this similar (difflib ratio) are the same screen shown again.
SAME_TEXT_RATIO = 0.85
# Fewer characters are a clock, a logo or a caption: not a screen worth listing.
MIN_CHARS = 4
# Text is dense in sharp edges: at least this share of pixels of a 320-wide grey copy must step by
# more than EDGE_STEP (of 255) to their neighbours for a picture to be OCR'd.
EDGE_CHECK_WIDTH = 320
EDGE_STEP = 60.0
MIN_EDGE_SHARE = 0.0015
THUMBNAIL_WIDTH = 320
THUMBNAIL_QUALITY = 80


@dataclass
class ScreenText:
    start_s: float
    end_s: float
    text: str
    confidence: float
    thumbnail: bytes = dataclasses.field(repr=False, default=b"")


def _signature(image: Image.Image) -> np.ndarray:
    grey = image.convert("L").resize(SIGNATURE_SIZE, Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float32) / 255.0


def _thumbnail(image: Image.Image) -> bytes:
    height = max(1, round(image.height * THUMBNAIL_WIDTH / image.width))
    output = io.BytesIO()
    image.convert("RGB").resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS).save(
        output, format="JPEG", quality=THUMBNAIL_QUALITY
    )
    return output.getvalue()


def _video_stream(container: InputContainer) -> VideoStream:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise ExtractionError("The file has no video track")


def _keyframes(container: InputContainer) -> Iterator[tuple[float, Image.Image]]:
    """(time, picture) of each keyframe in order; one at a time, so an hour of video is never held."""
    stream = _video_stream(container)
    stream.codec_context.skip_frame = "NONKEY"
    for frame in container.decode(stream):
        if frame.time is not None:
            yield float(frame.time), frame.to_image()  # type: ignore[no-untyped-call]


def _changed(signature: np.ndarray, last: np.ndarray | None) -> bool:
    return last is None or float((np.abs(signature - last) > PIXEL_CHANGE).mean()) > CHANGED_SHARE


def screen_texts(path: Path) -> list[ScreenText]:
    """The distinct screens of text in the video at ``path``, in order of first appearance."""
    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        raise ExtractionError("The file is not a video that can be read") from exc
    with container:
        duration = container.duration / av.time_base if container.duration else 0.0
        # Short videos get a few screens whatever the hourly rate; MIN_GAP_S bounds them anyway.
        cap = max(MIN_SCREENS, int(MAX_SCREENS_PER_HOUR * duration / 3600) + 1)
        screens: list[ScreenText] = []
        # The screen on display until the next change.
        showing: ScreenText | None = None
        last_signature: np.ndarray | None = None
        last_ocr_s = -MIN_GAP_S
        read = 0
        end = duration
        for time_s, image in _keyframes(container):
            end = max(end, time_s)
            signature = _signature(image)
            if not _changed(signature, last_signature) or time_s - last_ocr_s < MIN_GAP_S or read >= cap:
                continue
            last_signature, last_ocr_s = signature, time_s
            read += 1
            screen = _read_screen(time_s, image)
            if showing is not None:
                showing.end_s, showing = time_s, None
            # Shown before: its first appearance is where search sends people.
            if screen is not None and not any(_same(earlier.text, screen.text) for earlier in screens):
                screens.append(screen)
                showing = screen
    if showing is not None:
        showing.end_s = max(end, showing.start_s)
    return screens


def _same(text: str, other: str) -> bool:
    return difflib.SequenceMatcher(None, text, other).ratio() >= SAME_TEXT_RATIO


def _may_hold_text(image: Image.Image) -> bool:
    """Whether enough of the picture is sharp edges for it to hold text: plain footage (a colour
    field, a blurred room) is passed over without OCR."""
    width = EDGE_CHECK_WIDTH
    height = max(1, round(image.height * width / image.width))
    grey = np.asarray(image.convert("L").resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    edges = (np.abs(np.diff(grey, axis=1))[:-1, :] + np.abs(np.diff(grey, axis=0))[:, :-1]) > EDGE_STEP
    return float(edges.mean()) >= MIN_EDGE_SHARE


def _read_screen(time_s: float, image: Image.Image) -> ScreenText | None:
    if not _may_hold_text(image):
        return None
    recognised = ocr.recognize(image)
    if recognised is None:
        return None
    text = normalize_text(recognised.text)
    if sum(not char.isspace() for char in text) < MIN_CHARS or quality.is_garbage(text):
        return None
    return ScreenText(time_s, time_s, text, recognised.confidence, _thumbnail(image))


def _child(video: Path, outdir: Path) -> dict[str, object]:
    try:
        screens = screen_texts(video)
    except ExtractionError as exc:
        return {"error": str(exc)}
    listed = []
    for number, screen in enumerate(screens, start=1):
        (outdir / f"{number}.jpg").write_bytes(screen.thumbnail)
        listed.append({k: v for k, v in dataclasses.asdict(screen).items() if k != "thumbnail"})
    return {"screens": listed}


if __name__ == "__main__":
    print(json.dumps(_child(Path(sys.argv[1]), Path(sys.argv[2]))))
