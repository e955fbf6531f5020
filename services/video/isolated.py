"""Transcoding in a child process, under a time limit and an address-space limit.

FFmpeg decodes whatever was uploaded; a crash, a hang or a runaway allocation must cost a child
process, not the worker (nor the API process the embedded worker shares). Modelled on
services/resources/isolated_video.py: the child reports on stdout, one JSON object a line —
`{"progress": 0.42}` as it goes, then `{"result": {...}}` or `{"error": "..."}`. Run with
`python -m services.video.isolated SOURCE OUTPUT_DIR OPTIONS_JSON`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import resource
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.lazy_imports import lazy_module

if TYPE_CHECKING:
    from services.documents import screen_changes
    from services.video import transcode as transcoding
    from services.video.transcode import Options
else:
    # PyAV, numpy and Pillow: loaded in the transcoding child, not by the API that starts it.
    screen_changes = lazy_module("services.documents.screen_changes")
    transcoding = lazy_module("services.video.transcode")

logger = logging.getLogger(__name__)

_REPORTED_STDERR = 2000
_MAX_LINE = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Limits:
    # The time limit is time_s, or time_factor × the duration the child finds in the header once
    # it says so, whichever is longer: a 45-minute lesson gets hours, a hang on a short clip not.
    time_s: float
    memory_mb: int
    time_factor: float = 0.0

    def allowing(self, duration_s: float) -> float:
        return max(self.time_s, self.time_factor * duration_s)


def _limit_memory(memory_mb: int) -> Callable[[], None]:
    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


async def run_transcode(
    source: Path,
    output: Path,
    options: Options,
    limits: Limits,
    on_progress: Callable[[float], Awaitable[None]],
) -> dict[str, Any]:
    """The child's result (see transcode.Result); TranscodeError when it fails, crashes, runs out of
    memory or time (it is killed then). on_progress is awaited with each fraction reported."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        str(source),
        str(output),
        json.dumps(dataclasses.asdict(options)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=_MAX_LINE,
        preexec_fn=_limit_memory(limits.memory_mb),
    )
    assert process.stdout is not None and process.stderr is not None
    stderr_task = asyncio.ensure_future(process.stderr.read())
    report: dict[str, Any] = {}

    loop = asyncio.get_running_loop()
    started = loop.time()
    allowed = limits.time_s

    async def read_reports() -> None:
        nonlocal allowed
        assert process.stdout is not None
        while True:
            remaining = started + allowed - loop.time()
            if remaining <= 0:
                raise TimeoutError
            line = await asyncio.wait_for(process.stdout.readline(), remaining)
            if not line:
                return
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "progress" in message:
                await on_progress(float(message["progress"]))
            elif "duration" in message:
                allowed = limits.allowing(float(message["duration"] or 0))
            else:
                report.update(message)

    try:
        await read_reports()
        await asyncio.wait_for(process.wait(), max(1.0, started + allowed - loop.time()))
    except BaseException as exc:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        stderr_task.cancel()
        if isinstance(exc, TimeoutError):
            raise transcoding.TranscodeError(
                f"Transcoding took longer than {allowed:g} s and was stopped"
            ) from exc
        raise
    stderr = await stderr_task
    if "error" in report:
        raise transcoding.TranscodeError(str(report["error"]))
    if process.returncode != 0 or "result" not in report:
        code = process.returncode or 0
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        text = stderr[-_REPORTED_STDERR:].decode(errors="replace")
        logger.warning("transcode child %s: %s", how, text)
        if "MemoryError" in text or "Cannot allocate memory" in text:
            raise transcoding.TranscodeError(
                f"Transcoding ran out of memory (limit {limits.memory_mb} MB) and was stopped"
            )
        raise transcoding.TranscodeError(
            f"The video could not be transcoded: the transcoder stopped on it ({how})"
        )
    result: dict[str, Any] = report["result"]
    return result


def _child(source: Path, output: Path, options: Options) -> dict[str, Any]:
    def progress(fraction: float) -> None:
        print(json.dumps({"progress": round(fraction, 3)}), flush=True)

    def announce(duration_s: float) -> None:
        print(json.dumps({"duration": duration_s}), flush=True)

    # The screen-text detector shares this decode pass; the OCR of what it keeps is a job of its own.
    observe = screen_changes.ScreenChanges(output) if options.screen_frames else None
    try:
        result = transcoding.transcode(
            source, output, options, progress=progress, announce=announce, observe=observe
        )
        return {"result": result.as_json()}
    except transcoding.TranscodeError as exc:
        return {"error": str(exc)}


if __name__ == "__main__":
    raw = json.loads(sys.argv[3])
    raw["ladder"] = tuple(raw["ladder"])
    print(json.dumps(_child(Path(sys.argv[1]), Path(sys.argv[2]), transcoding.Options(**raw))), flush=True)
