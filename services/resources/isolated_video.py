"""Probing a video and cutting its poster in a child process, under a time limit.

FFmpeg decodes whatever a teacher's machine (or an attacker) uploaded. If a hostile or merely odd
file makes it crash (a segfault takes the whole process) or hang, that must cost a child process,
not the worker, nor the API process the embedded worker shares. The child reports on stdout as
JSON and writes the poster next to the video; run with `python -m services.resources.isolated_video
VIDEO POSTER`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
from pathlib import Path

from anyio import to_thread

from services.resources import extraction

logger = logging.getLogger(__name__)

# Probing reads headers and decodes a frame or two; minutes would mean the decoder is stuck.
VIDEO_ANALYSIS_TIMEOUT_S = 300.0
_REPORTED_STDERR = 2000


async def run_isolated(argv: list[str], *, timeout_s: float) -> bytes:
    """Run a child process to its end and return its stdout; ExtractionError if it crashes, fails
    or outlives timeout_s (it is killed then)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    except BaseException as exc:
        # Timed out, or the job was cancelled: the child must not outlive its caller.
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        if isinstance(exc, TimeoutError):
            raise extraction.ExtractionError(
                f"Reading the video took longer than {timeout_s:g} s and was stopped"
            ) from exc
        raise
    if process.returncode != 0:
        code = process.returncode or 0
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        logger.warning("video child %s: %s", how, stderr[-_REPORTED_STDERR:].decode(errors="replace"))
        raise extraction.ExtractionError(f"The video could not be read: the decoder stopped on it ({how})")
    return stdout


async def analyse_video(
    path: Path, *, timeout_s: float = VIDEO_ANALYSIS_TIMEOUT_S
) -> tuple[extraction.VideoInfo, bytes]:
    """The video's facts and a JPEG poster, computed in a child process."""
    poster_path = path.with_name(f"{path.name}.poster.jpg")
    stdout = await run_isolated(
        [sys.executable, "-m", __name__, str(path), str(poster_path)], timeout_s=timeout_s
    )
    try:
        report = json.loads(stdout)
    except ValueError as exc:
        raise extraction.ExtractionError("The video could not be read") from exc
    if "error" in report:
        raise extraction.ExtractionError(str(report["error"]))
    poster = await to_thread.run_sync(poster_path.read_bytes)
    return extraction.VideoInfo(**report["info"]), poster


def _child(video: Path, poster: Path) -> dict[str, object]:
    try:
        info = extraction.probe_video(video)
        poster.write_bytes(extraction.video_poster_jpeg(video))
    except extraction.ExtractionError as exc:
        return {"error": str(exc)}
    return {"info": dataclasses.asdict(info)}


if __name__ == "__main__":
    print(json.dumps(_child(Path(sys.argv[1]), Path(sys.argv[2]))))
