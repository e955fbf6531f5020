"""The worker's job that reads the text on screen in a recorded lesson, after the video is ready.

A job of its own, queued when a video's processing succeeded: OCR of an hour's slides takes minutes,
and the video must not wait for it to be playable. It runs in a child process under a time limit,
like the video probe, and its results replace the file's screens only if the content is unchanged.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anyio import to_thread

from services.context import AppContext
from services.documents.base import ExtractionError
from services.indexing.service import enqueue_reindex
from services.jobs.repository import JobRepository
from services.jobs.worker import job_handler
from services.lazy_imports import lazy_module
from services.resources.isolated_video import run_isolated
from services.resources.processing import AFTER_VIDEO_READY, download
from services.resources.repository import ResourceRepository
from services.resources.service import SEARCH_PARENT

if TYPE_CHECKING:
    from services.documents import screens as screen_reading
else:
    # PyAV, numpy and OCR: loaded by the process that reads screens, not by the API.
    screen_reading = lazy_module("services.documents.screens")
from storage.blobs.base import BlobNotFound
from storage.models.resources import ResourceFile

logger = logging.getLogger(__name__)

SCREEN_TEXT_JOB = "documents.screen_text"
# Decoding keyframes is quick; OCR of up to MAX_SCREENS_PER_HOUR screens a few seconds each.
BASE_TIMEOUT_S = 600.0
TIMEOUT_S_PER_VIDEO_S = 0.5


def enqueue_screen_text(repository: JobRepository, file: ResourceFile) -> None:
    repository.add(SCREEN_TEXT_JOB, {"file_id": str(file.id), "blob_key": file.blob_key}, max_attempts=2)


@job_handler(SCREEN_TEXT_JOB)
async def read_screen_text(context: AppContext, payload: dict[str, Any]) -> None:
    file_id = uuid.UUID(payload["file_id"])
    async with context.sessionmaker() as session:
        file = await ResourceRepository(session).get_file_by_id(file_id)
        if file is None or file.blob_key != payload["blob_key"]:
            return
        blob_key, duration = file.blob_key, file.duration_s or 0.0

    with tempfile.TemporaryDirectory(prefix="jiaoyun-screens-") as workdir:
        path = Path(workdir) / "content"
        try:
            await download(context, blob_key, path)
        except BlobNotFound:
            return
        found = await _read_isolated(path, Path(workdir), BASE_TIMEOUT_S + TIMEOUT_S_PER_VIDEO_S * duration)

    async with context.sessionmaker() as session, session.begin():
        repository = ResourceRepository(session)
        current = await repository.get_file_by_id(file_id)
        if current is None or current.blob_key != blob_key:
            return  # replaced or deleted meanwhile
        await repository.replace_screens(current.id, found)
        enqueue_reindex(session, SEARCH_PARENT, current.resource_id)


async def _read_isolated(video: Path, workdir: Path, timeout_s: float) -> list[screen_reading.ScreenText]:
    """The screens, read in a child process; none when it fails (the video stays as it is)."""
    try:
        stdout = await run_isolated(
            [sys.executable, "-m", screen_reading.__name__, str(video), str(workdir)], timeout_s=timeout_s
        )
        report = json.loads(stdout)
    except (ExtractionError, ValueError):
        logger.warning("Screen text of %s could not be read", video, exc_info=True)
        return []
    if "error" in report:
        logger.info("Screen text: %s", report["error"])
        return []

    def load() -> list[screen_reading.ScreenText]:
        return [
            screen_reading.ScreenText(**fields, thumbnail=(workdir / f"{number}.jpg").read_bytes())
            for number, fields in enumerate(report["screens"], start=1)
        ]

    return await to_thread.run_sync(load)


AFTER_VIDEO_READY.append(enqueue_screen_text)
