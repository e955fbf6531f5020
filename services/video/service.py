"""Lesson video renditions: queued with a recording's content, made by the worker in a child
process (decode once → H.264/AAC HLS ladder + storyboard), stored under one blob prefix per
content, and deleted with it.

A file's renditions row is replaced whenever its content is; every blob key it wrote is listed
on the row, so deleting them needs no listing of the store, and `gc` removes what a transcode
killed midway left under a prefix no row owns.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from services.context import AppContext
from services.jobs.repository import JobRepository
from services.jobs.worker import job_failure_hook, job_handler
from services.lazy_imports import lazy_module
from services.maintenance.repository import BlobDeletionRepository
from services.settings import Settings
from services.video.isolated import Limits, run_transcode
from services.video.repository import RenditionRepository

if TYPE_CHECKING:
    from services.video import transcode as transcoding
else:
    # PyAV and Pillow: loaded by the process that transcodes, not by the API.
    transcoding = lazy_module("services.video.transcode")
from storage.blobs.base import BlobNotFound, new_blob_key
from storage.database import utcnow
from storage.models.jobs import Job
from storage.models.resources import FilePurpose, ResourceFile
from storage.models.video import RenditionStatus, VideoRenditions

logger = logging.getLogger(__name__)

TRANSCODE_JOB = "video.transcode"
BLOB_PREFIX = "video"
# Transcoding a lesson takes long; a failure is rarely cured by trying again and again.
TRANSCODE_ATTEMPTS = 3
PROGRESS_WRITE_STEP = 2  # percent
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
}


# Called when a content's renditions are settled, ready or failed, in the transaction that records
# it (services.documents.screen_jobs queues the OCR of the screens the transcode kept, or reads
# them itself when the transcode failed).
AFTER_RENDITIONS_SETTLED: list[Callable[[AsyncSession, VideoRenditions], Awaitable[None]]] = []


async def _settled(session: AsyncSession, renditions: VideoRenditions) -> None:
    for hook in AFTER_RENDITIONS_SETTLED:
        await hook(session, renditions)


def content_type_of(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def wants_renditions(file: ResourceFile) -> bool:
    return file.category == "video" and file.purpose == FilePurpose.primary


def _blob_keys(renditions: VideoRenditions) -> list[str]:
    return [f"{renditions.blob_prefix}/{name}" for name in renditions.files]


async def queue_renditions(session: AsyncSession, file: ResourceFile) -> None:
    """Renditions for the file's current content, replacing any of earlier content; call in the
    transaction that stores (or replaces) the content."""
    if not wants_renditions(file):
        return
    repository = RenditionRepository(session)
    existing = await repository.of_file(file.id, for_update=True)
    if existing is not None:
        BlobDeletionRepository(session).add(_blob_keys(existing))
        await repository.remove(existing)
        await session.flush()
    renditions = VideoRenditions(
        id=uuid.uuid4(),
        file_id=file.id,
        source_blob_key=file.blob_key,
        blob_prefix=new_blob_key(BLOB_PREFIX),
        status=RenditionStatus.pending,
        progress=0,
        renditions=[],
        files=[],
    )
    repository.add(renditions)
    JobRepository(session).add(
        TRANSCODE_JOB,
        {"renditions_id": str(renditions.id), "file_id": str(file.id), "blob_key": file.blob_key},
        max_attempts=TRANSCODE_ATTEMPTS,
    )


async def forget_renditions(session: AsyncSession, file_ids: Sequence[uuid.UUID]) -> None:
    """The files are being deleted: their renditions' blobs go once the transaction commits."""
    repository = RenditionRepository(session)
    for renditions in await repository.of_files(file_ids):
        BlobDeletionRepository(session).add(_blob_keys(renditions))
        await repository.remove(renditions)


async def renditions_of(session: AsyncSession, file_id: uuid.UUID) -> VideoRenditions | None:
    return await RenditionRepository(session).of_file(file_id)


async def live_prefixes(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of these blob keys lie under renditions a row still owns (for gc)."""
    prefixes = {prefix_of(key) for key in keys}
    live = await RenditionRepository(session).live_prefixes(sorted(prefixes))
    return {key for key in keys if prefix_of(key) in live}


def prefix_of(key: str) -> str:
    # video/YYYY/MM/<hex>/... → video/YYYY/MM/<hex>
    return "/".join(key.split("/")[:4])


def options_from(settings: Settings) -> transcoding.Options:
    return transcoding.Options(
        ladder=tuple(settings.video_ladder), preset=settings.video_preset, screen_frames=settings.ocr_enabled
    )


def segment_origin(settings: Settings) -> str | None:
    """Where browsers fetch segments from when playlists list presigned URLs (S3 mode), else None."""
    if not (settings.s3_endpoint and settings.content_redirects):
        return None
    endpoint = settings.s3_public_endpoint or settings.s3_endpoint
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    return f"{parts.scheme}://{parts.netloc}"


def segment_url_ttl(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.video_segment_url_ttl_minutes)


def limits_for(settings: Settings, duration_s: float | None) -> Limits:
    time_s = max(
        settings.video_transcode_min_time_s, (duration_s or 0.0) * settings.video_transcode_time_factor
    )
    return Limits(time_s=time_s, memory_mb=settings.video_transcode_memory_mb)


# -- the job ---------------------------------------------------------------------------------------


async def _download(context: AppContext, key: str, target: Path) -> None:
    handle = await to_thread.run_sync(target.open, "wb")
    try:
        chunks: AsyncIterator[bytes] = context.blob_store.get(key)
        async for chunk in chunks:
            await to_thread.run_sync(handle.write, chunk)
    finally:
        await to_thread.run_sync(handle.close)


async def _upload(context: AppContext, prefix: str, directory: Path, names: list[str]) -> None:
    for name in names:
        path = directory / name

        async def chunks(path: Path = path) -> AsyncIterator[bytes]:
            yield await to_thread.run_sync(path.read_bytes)

        await context.blob_store.put(f"{prefix}/{name}", chunks(), content_type=content_type_of(name))


async def _current(
    context: AppContext, renditions_id: uuid.UUID
) -> tuple[VideoRenditions, float | None] | None:
    """The renditions row and its file's duration, unless the row was replaced or removed."""
    async with context.sessionmaker() as session:
        renditions = await RenditionRepository(session).get(renditions_id)
        if renditions is None:
            return None
        file = await session.get(ResourceFile, renditions.file_id)
        if file is None or file.blob_key != renditions.source_blob_key:
            return None
        return renditions, file.duration_s


async def _update(context: AppContext, renditions_id: uuid.UUID, **values: Any) -> bool:
    async with context.sessionmaker() as session, session.begin():
        renditions = await RenditionRepository(session).get(renditions_id)
        if renditions is None:
            return False
        for name, value in values.items():
            setattr(renditions, name, value)
        renditions.updated_at = utcnow()
        if values.get("status") == RenditionStatus.failed:
            await _settled(session, renditions)
        return True


@job_handler(TRANSCODE_JOB, long_running=True)
async def make_renditions(context: AppContext, payload: dict[str, Any]) -> None:
    renditions_id = uuid.UUID(payload["renditions_id"])
    found = await _current(context, renditions_id)
    if found is None:
        return  # replaced or deleted before its turn came
    renditions, duration_s = found
    prefix, source_key = renditions.blob_prefix, renditions.source_blob_key
    await _update(context, renditions_id, status=RenditionStatus.running, progress=0, error=None)
    written = {"percent": 0}

    async def on_progress(fraction: float) -> None:
        percent = min(99, int(fraction * 100))
        if percent - written["percent"] >= PROGRESS_WRITE_STEP:
            written["percent"] = percent
            await _update(context, renditions_id, progress=percent)

    with tempfile.TemporaryDirectory(prefix="jiaoyun-transcode-") as workdir:
        source = Path(workdir) / "source"
        output = Path(workdir) / "out"
        try:
            await _download(context, source_key, source)
        except BlobNotFound:
            await _update(
                context, renditions_id, status=RenditionStatus.failed, error="The file's content is missing"
            )
            return
        try:
            result = await run_transcode(
                source,
                output,
                options_from(context.settings),
                limits_for(context.settings, duration_s),
                on_progress,
            )
        except transcoding.TranscodeError as exc:
            await _update(context, renditions_id, status=RenditionStatus.failed, error=str(exc), progress=0)
            return
        files: list[str] = result["files"]
        # Listed before the bytes go up: a transcode killed while uploading leaves only blobs its
        # row names (or, were the row gone, blobs under a prefix gc knows no row owns).
        if not await _update(context, renditions_id, files=files):
            return
        await _upload(context, prefix, output, files)

    async with context.sessionmaker() as session, session.begin():
        current = await RenditionRepository(session).get(renditions_id)
        file = await session.get(ResourceFile, current.file_id) if current is not None else None
        if current is None or file is None or file.blob_key != source_key:
            BlobDeletionRepository(session).add([f"{prefix}/{name}" for name in files])
            return
        current.status = RenditionStatus.ready
        current.progress = 100
        current.error = None
        current.duration_s = result["duration_s"]
        current.renditions = result["renditions"]
        current.storyboard = result["storyboard"]
        current.files = files
        current.updated_at = utcnow()
        await _settled(session, current)


@job_failure_hook(TRANSCODE_JOB)
async def record_that_transcoding_gave_up(session: AsyncSession, job: Job) -> None:
    renditions = await RenditionRepository(session).get(uuid.UUID(job.payload["renditions_id"]))
    if renditions is None or renditions.status == RenditionStatus.ready:
        return
    renditions.status = RenditionStatus.failed
    renditions.error = f"Transcoding gave up after {job.attempts} attempts; the original still plays"
    renditions.updated_at = utcnow()
    await _settled(session, renditions)
