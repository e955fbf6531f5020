"""The worker's job that reads the text on screen in a recorded lesson, once the video is ready.

A job of its own: OCR of an hour's slides takes minutes, and neither the video's processing nor its
transcode waits for it. The frames showing new screens come from the transcode's decode pass (see
services.documents.screen_changes), stored with the renditions; when no transcode decoded the video
(it failed, or the file gets no renditions), the job reads the keyframes itself. Either way it runs
in a child process under a time limit, and its results replace the file's screens only if the
content is unchanged.

The job is queued by whichever of the two settles last: the video's processing (ready) or its
renditions (ready or failed). Each looks at the other's state in its own transaction, with the
renditions row locked, so the job is queued once whichever commits first.
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
from sqlalchemy.ext.asyncio import AsyncSession

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
from services.video import service as video
from services.video.repository import RenditionRepository

if TYPE_CHECKING:
    from services.documents import screen_changes
    from services.documents import screens as screen_reading
else:
    # PyAV, numpy and OCR: loaded by the process that reads screens, not by the API.
    screen_changes = lazy_module("services.documents.screen_changes")
    screen_reading = lazy_module("services.documents.screens")
from storage.blobs.base import BlobNotFound
from storage.models.resources import ProcessingStatus, ResourceFile
from storage.models.video import RenditionStatus, VideoRenditions

logger = logging.getLogger(__name__)

SCREEN_TEXT_JOB = "documents.screen_text"
# Where the job finds the frames of new screens: kept by the transcode, or the video's keyframes.
FROM_RENDITIONS = "renditions"
FROM_VIDEO = "video"
# Decoding keyframes is quick; OCR of up to MAX_SCREENS_PER_HOUR screens a few seconds each.
BASE_TIMEOUT_S = 600.0
TIMEOUT_S_PER_VIDEO_S = 0.5


def _enqueue(session: AsyncSession, file_id: uuid.UUID, blob_key: str, source: str) -> None:
    JobRepository(session).add(
        SCREEN_TEXT_JOB, {"file_id": str(file_id), "blob_key": blob_key, "from": source}, max_attempts=2
    )


async def after_video_ready(session: AsyncSession, file: ResourceFile) -> None:
    """The video's processing succeeded: read its screens now, unless its transcode, which keeps
    the frames, is still to settle (it queues the job then)."""
    renditions = await RenditionRepository(session).of_file(file.id, for_update=True)
    if renditions is None or renditions.source_blob_key != file.blob_key:
        _enqueue(session, file.id, file.blob_key, FROM_VIDEO)
    elif renditions.status == RenditionStatus.ready:
        _enqueue(session, file.id, file.blob_key, FROM_RENDITIONS)
    elif renditions.status == RenditionStatus.failed:
        _enqueue(session, file.id, file.blob_key, FROM_VIDEO)


async def after_renditions_settled(session: AsyncSession, renditions: VideoRenditions) -> None:
    """The transcode is done (or failed): read the screens now if the video's processing succeeded
    already (otherwise it queues the job when it does)."""
    await session.flush()  # the renditions row is locked from here on
    file = await session.get(ResourceFile, renditions.file_id, populate_existing=True)
    if (
        file is None
        or file.blob_key != renditions.source_blob_key
        or file.processing_status != ProcessingStatus.ready
    ):
        return
    ready = renditions.status == RenditionStatus.ready
    _enqueue(session, file.id, file.blob_key, FROM_RENDITIONS if ready else FROM_VIDEO)


@job_handler(SCREEN_TEXT_JOB)
async def read_screen_text(context: AppContext, payload: dict[str, Any]) -> None:
    if not context.settings.ocr_enabled:
        return
    file_id = uuid.UUID(payload["file_id"])
    async with context.sessionmaker() as session:
        file = await ResourceRepository(session).get_file_by_id(file_id)
        if file is None or file.blob_key != payload["blob_key"]:
            return
        blob_key, duration = file.blob_key, file.duration_s or 0.0
        renditions = await video.renditions_of(session, file_id)
    frames: list[str] = []
    from_renditions = payload.get("from") == FROM_RENDITIONS and renditions is not None
    if from_renditions and renditions is not None and renditions.source_blob_key == blob_key:
        prefix = renditions.blob_prefix
        frames = [name for name in renditions.files if screen_changes.start_of(name) is not None]
        duration = renditions.duration_s or duration
    timeout_s = BASE_TIMEOUT_S + TIMEOUT_S_PER_VIDEO_S * duration

    with tempfile.TemporaryDirectory(prefix="jiaoyun-screens-") as workdir:
        try:
            if frames:
                await to_thread.run_sync((Path(workdir) / screen_changes.SCREENS_DIR).mkdir)
                for name in frames:
                    await download(context, f"{prefix}/{name}", Path(workdir) / name)
                argv = ["--frames", workdir, str(duration), workdir]
            else:
                # No transcode kept frames of this content: its keyframes are read instead.
                await download(context, blob_key, Path(workdir) / "content")
                argv = [str(Path(workdir) / "content"), workdir]
        except BlobNotFound:
            return
        found = await _read_isolated(argv, Path(workdir), timeout_s)

    async with context.sessionmaker() as session, session.begin():
        repository = ResourceRepository(session)
        current = await repository.get_file_by_id(file_id)
        if current is None or current.blob_key != blob_key:
            return  # replaced or deleted meanwhile
        await repository.replace_screens(current.id, found)
        enqueue_reindex(session, SEARCH_PARENT, current.resource_id)


async def _read_isolated(argv: list[str], workdir: Path, timeout_s: float) -> list[screen_reading.ScreenText]:
    """The screens, read in a child process; none when it fails (the video stays as it is)."""
    try:
        command = [sys.executable, "-m", screen_reading.__name__, *argv]
        stdout = await run_isolated(command, timeout_s=timeout_s)
        report = json.loads(stdout)
    except (ExtractionError, ValueError):
        logger.warning("Screen text of %s could not be read", argv[0], exc_info=True)
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


AFTER_VIDEO_READY.append(after_video_ready)
video.AFTER_RENDITIONS_SETTLED.append(after_renditions_settled)
