"""Screen changes picked inside the transcode's decode pass: each new screen once, from its second,
at most one every few seconds and a cap per hour; the OCR then reads the frames the pass kept."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import av
import numpy as np

from services.documents import screen_changes
from services.documents.screen_changes import MIN_GAP_S, MIN_SCREENS, ScreenChanges
from services.documents.screens import frames_in, read_screens
from services.video.isolated import Limits, run_transcode
from services.video.transcode import Options
from tests.services.documents import generated

TITLE = ("第一课 小蝌蚪找妈妈",)
EXERCISE = ("课堂练习 青蛙的成长过程",)


def flat(level: int, *, bar: int | None = None) -> av.VideoFrame:
    """A grey 160×90 picture, with a dark bar at column ``bar`` (a different "slide" per column)."""
    pixels = np.full((90, 160, 3), level, dtype=np.uint8)
    if bar is not None:
        pixels[10:80, bar : bar + 12] = 0
    return av.VideoFrame.from_ndarray(pixels, format="rgb24")


def test_the_transcode_pass_keeps_each_new_screen_and_the_ocr_reads_them(tmp_path: Path) -> None:
    source = tmp_path / "lesson.mp4"
    # The title slide comes back at the end: kept again (it differs from the slide before), and
    # merged with its first showing by the OCR.
    source.write_bytes(generated.slide_video((TITLE, EXERCISE, TITLE)))
    options = Options(ladder=(120,), preset="ultrafast", screen_frames=True)

    async def ignore(fraction: float) -> None:
        pass

    result = asyncio.run(run_transcode(source, tmp_path / "out", options, Limits(120, 3072), ignore))

    kept = [name for name in result["files"] if name.startswith(f"{screen_changes.SCREENS_DIR}/")]
    assert [screen_changes.start_of(name) for name in kept] == [0.0, 4.0, 8.0]
    screens = read_screens(frames_in(tmp_path / "out"), result["duration_s"])
    assert [(screen.start_s, screen.end_s, screen.text) for screen in screens] == [
        (0.0, 4.0, "第一课小蝌蚪找妈妈"),
        (4.0, 8.0, "课堂练习青蛙的成长过程"),
    ]


def test_without_the_option_the_transcode_keeps_no_frames(tmp_path: Path) -> None:
    source = tmp_path / "lesson.mp4"
    source.write_bytes(generated.slide_video((TITLE, EXERCISE)))

    async def ignore(fraction: float) -> None:
        pass

    options = Options(ladder=(120,), preset="ultrafast")
    result = asyncio.run(run_transcode(source, tmp_path / "out", options, Limits(120, 3072), ignore))
    assert not any(screen_changes.start_of(name) is not None for name in result["files"])


def test_a_screen_is_kept_once_settled_at_most_every_few_seconds(tmp_path: Path) -> None:
    changes = ScreenChanges(tmp_path)
    # 10 fps, looked at once a second. Slide A; B for one second before A is back (never settled);
    # C; D fading in over a second; E two seconds after D, so kept three seconds after it.
    a, b, c, e = flat(200, bar=10), flat(200, bar=40), flat(200, bar=70), flat(200, bar=130)
    fading, d = flat(120, bar=100), flat(200, bar=100)
    timeline = [(0, a), (5, b), (6, a), (7, c), (10, fading), (11, d), (13, e), (20, None)]
    for (start, picture), (end, _) in itertools.pairwise(timeline):
        assert picture is not None
        for tenth in range(start * 10, end * 10):
            changes(picture, tenth / 10)

    starts = [start for start, _ in changes.kept]
    assert starts == [0.0, 7.0, 11.0, 14.0]
    assert all(later - earlier >= MIN_GAP_S for earlier, later in itertools.pairwise(starts))
    assert all(path.read_bytes().startswith(b"\xff\xd8") for _, path in changes.kept)


def test_screens_are_capped_per_hour_of_video(tmp_path: Path) -> None:
    changes = ScreenChanges(tmp_path, every_s=0.0, settle=False)
    # A new picture every 3 s for 10 minutes: 200 changes; 10 + 120/h × 1/6 h = 30 are kept, the
    # later ones spread out as the allowance grows (one per 30 s).
    for index in range(200):
        changes(flat(40 + index % 200, bar=(index * 7) % 148), index * 3.0)
    starts = [start for start, _ in changes.kept]
    assert len(starts) == MIN_SCREENS + 20
    assert starts[:MIN_SCREENS] == [index * 3.0 for index in range(MIN_SCREENS)]
    assert starts[-1] - starts[-2] == 30.0
