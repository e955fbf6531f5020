"""Text on screen in a recorded lesson: the slides and the blackboard, with the second they appear.

The frames showing a new screen are picked by services.documents.screen_changes: inside the
transcode's decode pass when the recording is transcoded (they arrive here as JPEGs from the
renditions), or here from the keyframes alone when it is not (transcoding failed, or the file gets
no renditions), so an hour of video costs seconds of decoding, not a second full decode. Each
picked frame that may hold text is OCR'd; repeats (the same slide shown again after a close-up of
the teacher) are merged into one screen, listed from its first appearance.

Run in a child process (FFmpeg and OCR on uploaded files, time-limited by the caller):
`python -m services.documents.screens VIDEO OUTDIR` (from the keyframes) or
`python -m services.documents.screens --frames FRAMES_DIR END_S OUTDIR` (the transcode's frames)
writes the screens as JSON on stdout and one JPEG thumbnail per screen in OUTDIR.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import json
import logging
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from av.video.stream import VideoStream
from PIL import Image

from services.documents import ocr, quality, screen_changes
from services.documents.base import ExtractionError, normalize_text

logger = logging.getLogger(__name__)

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


def read_screens(changes: Iterable[tuple[float, Path]], end_s: float) -> list[ScreenText]:
    """The distinct screens of text among ``changes`` ((second, JPEG) of each new screen, in order),
    in order of first appearance; the last one shown lasts until ``end_s``."""
    screens: list[ScreenText] = []
    # The screen on display until the next change.
    showing: ScreenText | None = None
    for time_s, path in changes:
        end_s = max(end_s, time_s)
        with Image.open(path) as picture:
            screen = _read_screen(time_s, picture)
        if showing is not None:
            showing.end_s, showing = time_s, None
        # Shown before: its first appearance is where search sends people.
        if screen is not None and not any(_same(earlier.text, screen.text) for earlier in screens):
            screens.append(screen)
            showing = screen
    if showing is not None:
        showing.end_s = max(end_s, showing.start_s)
    return screens


def screen_texts(path: Path) -> list[ScreenText]:
    """The distinct screens of text in the video at ``path``, from its keyframes alone: for a
    recording no transcode decodes (encoders put a keyframe at every scene cut, and at least every
    few seconds)."""
    with tempfile.TemporaryDirectory(prefix="jiaoyun-keyframes-") as workdir:
        return read_screens(*keyframe_changes(path, Path(workdir)))


def keyframe_changes(path: Path, workdir: Path) -> tuple[list[tuple[float, Path]], float]:
    """The keyframes of the video at ``path`` that show a new screen, written under ``workdir``,
    and the video's end."""
    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        raise ExtractionError("The file is not a video that can be read") from exc
    with container:
        end_s = container.duration / av.time_base if container.duration else 0.0
        stream = _video_stream(container)
        stream.codec_context.skip_frame = "NONKEY"
        changes = screen_changes.ScreenChanges(workdir, every_s=0.0, settle=False)
        for frame in container.decode(stream):
            if frame.time is not None:
                changes(frame, float(frame.time))
                end_s = max(end_s, float(frame.time))
    return changes.kept, end_s


def frames_in(directory: Path) -> list[tuple[float, Path]]:
    """The frames the transcode kept (see screen_changes), downloaded into ``directory`` under
    their names, in order."""
    found = []
    for path in (directory / screen_changes.SCREENS_DIR).glob("*.jpg"):
        start_s = screen_changes.start_of(f"{screen_changes.SCREENS_DIR}/{path.name}")
        if start_s is not None:
            found.append((start_s, path))
    return sorted(found)


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


def _report(screens: list[ScreenText], outdir: Path) -> dict[str, object]:
    listed = []
    for number, screen in enumerate(screens, start=1):
        (outdir / f"{number}.jpg").write_bytes(screen.thumbnail)
        listed.append({k: v for k, v in dataclasses.asdict(screen).items() if k != "thumbnail"})
    return {"screens": listed}


def _child(argv: list[str]) -> dict[str, object]:
    try:
        if argv[0] == "--frames":
            frames, end_s, outdir = Path(argv[1]), float(argv[2]), Path(argv[3])
            return _report(read_screens(frames_in(frames), end_s), outdir)
        return _report(screen_texts(Path(argv[0])), Path(argv[1]))
    except ExtractionError as exc:
        return {"error": str(exc)}


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1:])))
