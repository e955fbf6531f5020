"""Videos are probed in a child process: a decoder that crashes, hangs or hoards memory costs the
child, not the worker."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from services.resources.extraction import ExtractionError
from services.resources.isolated_video import analyse_video, run_isolated
from tests import samples

pytestmark = pytest.mark.anyio


async def test_a_video_is_probed_and_its_poster_cut_in_a_child(tmp_path: Path) -> None:
    video = tmp_path / "content"
    video.write_bytes(samples.mp4_bytes(duration_s=2.0, width=320, height=240))
    info, poster = await analyse_video(video)
    assert (info.width, info.height) == (320, 240)
    assert info.duration_s == pytest.approx(2.0, abs=0.3)
    assert poster[:3] == b"\xff\xd8\xff"


async def test_what_the_decoder_says_of_a_broken_video_comes_back(tmp_path: Path) -> None:
    broken = tmp_path / "content"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00broken" * 100)
    with pytest.raises(ExtractionError, match="not a video that can be read"):
        await analyse_video(broken)


async def test_a_crashing_child_is_reported_not_fatal() -> None:
    segfault = f"import os, signal; os.kill(os.getpid(), signal.{signal.SIGSEGV.name})"
    with pytest.raises(ExtractionError, match="SIGSEGV"):
        await run_isolated([sys.executable, "-c", segfault], timeout_s=30)
    with pytest.raises(ExtractionError, match="exit status 3"):
        await run_isolated([sys.executable, "-c", "raise SystemExit(3)"], timeout_s=30)


async def test_a_hanging_child_is_killed_at_its_time_limit(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    hang = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    started = time.monotonic()
    with pytest.raises(ExtractionError, match="longer than 1 s"):
        await run_isolated([sys.executable, "-c", hang], timeout_s=1)
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


async def test_the_video_child_has_a_memory_limit(tmp_path: Path) -> None:
    video = tmp_path / "content"
    video.write_bytes(samples.mp4_bytes(duration_s=1.0, width=1280, height=720))
    # Less than the decoder needs (the child starts from a fork server holding the readers already).
    with pytest.raises(ExtractionError):
        await analyse_video(video, memory_mb=300)
    info, _ = await analyse_video(video, memory_mb=2048)
    assert info.width == 1280
    hoarding = "x = [bytearray(1024 * 1024) for _ in range(800)]"
    with pytest.raises(ExtractionError, match="needed more than 600 MB of memory"):
        await run_isolated([sys.executable, "-c", hoarding], timeout_s=30, memory_mb=600)
