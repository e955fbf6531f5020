"""Probing a video and cutting its poster in a child process, under a time and a memory limit.

FFmpeg decodes whatever a teacher's machine (or an attacker) uploaded. If a hostile or merely odd
file makes it crash (a segfault takes the whole process), hang or allocate without end, that must
cost a child process, not the worker, nor the API process the embedded worker shares: the work runs
through services.jobs.isolation, which forks it from its fork server with the limits applied. The
child writes the poster next to the video and answers with the video's facts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from anyio import to_thread

from services.jobs import isolation
from services.jobs.isolation import ChildLimits
from services.lazy_imports import lazy_module

if TYPE_CHECKING:
    from services.resources import extraction
else:
    # PyAV, PDFium, python-docx/pptx, OCR: loaded where files are read (the worker, its children),
    # not by every process that imports this; the fork server still imports them once for all children.
    extraction = lazy_module("services.resources.extraction")

# Probing reads headers and decodes a frame or two; minutes would mean the decoder is stuck.
VIDEO_ANALYSIS_TIMEOUT_S = 300.0
VIDEO_ANALYSIS_MEMORY_MB = 2048
_TASK = "Reading the video"

isolation.preload(__name__)
isolation.preload("services.resources.extraction")


async def run_isolated(
    argv: list[str], *, timeout_s: float, memory_mb: int = VIDEO_ANALYSIS_MEMORY_MB
) -> bytes:
    """Run a program to its end and return its stdout; ExtractionError if it crashes, fails, runs
    out of memory or outlives timeout_s (it is killed then)."""
    try:
        return await isolation.run_command(argv, limits=ChildLimits(timeout_s, memory_mb), task=_TASK)
    except isolation.ChildFailed as exc:
        raise extraction.ExtractionError(str(exc)) from exc


async def analyse_video(
    path: Path, *, timeout_s: float = VIDEO_ANALYSIS_TIMEOUT_S, memory_mb: int = VIDEO_ANALYSIS_MEMORY_MB
) -> tuple[extraction.VideoInfo, bytes]:
    """The video's facts and a JPEG poster, computed in a child process."""
    poster_path = path.with_name(f"{path.name}.poster.jpg")
    try:
        info = await isolation.run_in_child(
            probe_in_child,
            str(path),
            str(poster_path),
            limits=ChildLimits(timeout_s, memory_mb),
            task=_TASK,
            expected=(extraction.ExtractionError,),
        )
    except isolation.ChildFailed as exc:
        raise extraction.ExtractionError(str(exc)) from exc
    poster = await to_thread.run_sync(poster_path.read_bytes)
    return extraction.VideoInfo(**info), poster


def probe_in_child(video: str, poster: str) -> dict[str, object]:
    """In the child: the facts of the video, its poster written to ``poster``."""
    info = extraction.probe_video(Path(video))
    Path(poster).write_bytes(extraction.video_poster_jpeg(Path(video)))
    return dataclasses.asdict(info)
