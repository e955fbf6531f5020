"""The worker's part: probe videos and cut posters, extract document text, parse subtitles.

Runs outside any request. The blob is copied to a private temporary file (FFmpeg and the Office
readers want to seek), the slow work runs in a child process under the time and memory limits of
the settings (services.jobs.isolation: a file that exceeds them fails alone, the worker goes on),
and the results are written in one short transaction, unless the file was replaced or deleted
meanwhile.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from services.context import AppContext
from services.indexing.service import enqueue_reindex
from services.jobs import isolation
from services.jobs.isolation import ChildLimits
from services.jobs.worker import job_failure_hook, job_handler
from services.lazy_imports import lazy_module
from services.maintenance.repository import BlobDeletionRepository
from services.observability import metrics
from services.observability.logs import bind
from services.resources.filetypes import FileCategory
from services.resources.isolated_video import analyse_video
from services.resources.repository import ResourceRepository
from services.resources.service import PROCESS_FILE_JOB, SEARCH_PARENT
from services.settings import Settings
from storage.blobs.base import BlobNotFound, new_blob_key
from storage.database import utcnow
from storage.models.jobs import Job
from storage.models.resources import ProcessingStatus, ResourceFile

if TYPE_CHECKING:
    from services.documents import ocr
    from services.resources import extraction
else:
    # PyAV, PDFium, python-docx/pptx, OCR: loaded where files are read (the worker, its children),
    # not by every process that imports this; the fork server still imports them once for all children.
    extraction = lazy_module("services.resources.extraction")
    ocr = lazy_module("services.documents.ocr")

logger = logging.getLogger(__name__)

POSTER_PREFIX = "poster"
# Called with each video file whose processing succeeded, in the transaction that records it
# (services.documents.screen_jobs queues its job here).
AFTER_VIDEO_READY: list[Callable[[AsyncSession, ResourceFile], Awaitable[None]]] = []
EXTRACTABLE_DOCUMENTS = frozenset({"pdf", "docx", "pptx"})
MAX_SUBTITLE_BYTES = 20 * 1024 * 1024

# Children fork from a server that has this module (and the readers it imports) loaded already.
isolation.preload(__name__)
isolation.preload("services.resources.extraction")


@dataclass
class Outcome:
    status: ProcessingStatus = ProcessingStatus.ready
    error: str | None = None
    sha256: str | None = None
    video: extraction.VideoInfo | None = None
    poster: bytes | None = None
    pages: list[extraction.PageText] | None = None
    cues: list[extraction.Cue] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def _analyse_video(settings: Settings, path: Path) -> Outcome:
    """In a child process: a decoder crashing or hanging on the file must not take the worker along."""
    try:
        info, poster = await analyse_video(
            path, timeout_s=settings.video_probe_timeout_s, memory_mb=settings.video_probe_memory_mb
        )
    except extraction.ExtractionError as exc:
        return Outcome(status=ProcessingStatus.failed, error=str(exc))
    return Outcome(video=info, poster=poster)


async def _analyse_isolated(settings: Settings, path: Path, format: str, category: str) -> Outcome:
    """`_analyse` in a child process under the processing limits; running out of them fails the file."""
    limits = ChildLimits(settings.processing_timeout_s, settings.processing_memory_mb)
    try:
        answer = await isolation.run_in_child(
            analyse_in_child,
            str(path),
            format,
            category,
            settings.ocr_enabled,
            settings.ocr_max_pages,
            limits=limits,
            task=f"Reading the {category}",
        )
    except isolation.ChildFailed as exc:
        return Outcome(status=ProcessingStatus.failed, error=str(exc))
    # Every field `_analyse` fills comes back as JSON; the dataclasses among them are rebuilt here.
    pages, cues = answer.pop("pages"), answer.pop("cues")
    return Outcome(
        **answer
        | {
            "status": ProcessingStatus(answer["status"]),
            "pages": None if pages is None else [extraction.PageText(**page) for page in pages],
            "cues": None if cues is None else [extraction.Cue(**cue) for cue in cues],
        }
    )


def analyse_in_child(
    path: str, format: str, category: str, ocr_enabled: bool, ocr_max_pages: int
) -> dict[str, Any]:
    """In the child: `_analyse`, as JSON."""
    budget = ocr.OcrBudget(enabled=ocr_enabled, max_pages=ocr_max_pages)
    return dataclasses.asdict(_analyse(Path(path), format, category, budget))


def _analyse(path: Path, format: str, category: str, budget: ocr.OcrBudget | None = None) -> Outcome:
    """The slow part of documents, pictures and subtitles, in a child process. Only ExtractionError is
    expected from the libraries."""
    budget = budget or ocr.OcrBudget(enabled=False)
    try:
        if category == FileCategory.document:
            if format not in EXTRACTABLE_DOCUMENTS:
                return Outcome(status=ProcessingStatus.skipped)
            return Outcome(pages=extraction.extract_pages(path, format, budget))
        if category == FileCategory.image:
            if not budget.enabled or format not in extraction.IMAGE_FORMATS:
                return Outcome(status=ProcessingStatus.skipped)
            return Outcome(pages=extraction.extract_pages(path, format, budget))
        if category == FileCategory.subtitle:
            if path.stat().st_size > MAX_SUBTITLE_BYTES:
                raise extraction.ExtractionError("The subtitle file is too large")
            return Outcome(cues=extraction.parse_subtitles(path.read_bytes()))
        return Outcome(status=ProcessingStatus.skipped)
    except extraction.ExtractionError as exc:
        return Outcome(status=ProcessingStatus.failed, error=str(exc))


async def download(context: AppContext, key: str, target: Path) -> str:
    digest = hashlib.sha256()
    handle = await to_thread.run_sync(target.open, "wb")

    def hash_and_write(chunk: bytes) -> None:
        digest.update(chunk)
        handle.write(chunk)

    try:
        chunks: AsyncIterator[bytes] = context.blob_store.get(key)
        async for chunk in chunks:
            await to_thread.run_sync(hash_and_write, chunk)
    finally:
        await to_thread.run_sync(handle.close)
    return digest.hexdigest()


async def _single(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


@job_handler(PROCESS_FILE_JOB)
async def process_file(context: AppContext, payload: dict[str, Any]) -> None:
    file_id = uuid.UUID(payload["file_id"])
    bind(file_id=str(file_id))
    async with context.sessionmaker() as session:
        file = await ResourceRepository(session).get_file_by_id(file_id)
        if file is None or not _same_content(file, payload):
            return  # deleted, or replaced, before its turn came: the new content has its own job
        blob_key, format, category = file.blob_key, file.format, file.category

    with tempfile.TemporaryDirectory(prefix="jiaoyun-process-") as workdir:
        path = Path(workdir) / "content"
        try:
            sha256 = await download(context, blob_key, path)
        except BlobNotFound:
            outcome = Outcome(status=ProcessingStatus.failed, error="The file's content is missing")
        else:
            started = time.perf_counter()
            if category == FileCategory.video:
                outcome = await _analyse_video(context.settings, path)
            else:
                outcome = await _analyse_isolated(context.settings, path, format, category)
            metrics.processing_seconds.labels(str(category)).observe(time.perf_counter() - started)
            outcome.sha256 = sha256
    expected = payload.get("expected_sha256")
    if outcome.sha256 and expected and outcome.sha256 != expected:
        outcome = Outcome(
            status=ProcessingStatus.failed,
            error="The uploaded bytes do not match the sha256 given when the upload started",
            sha256=outcome.sha256,
        )

    poster_key = None
    if outcome.poster is not None:
        poster_key = new_blob_key(POSTER_PREFIX)
        await context.blob_store.put(poster_key, _single(outcome.poster), content_type="image/jpeg")

    async with context.sessionmaker() as session, session.begin():
        repository = ResourceRepository(session)
        current = await repository.get_file_by_id(file_id)
        if current is None or current.blob_key != blob_key:
            # Replaced or deleted while we worked: the newer content has its own job.
            BlobDeletionRepository(session).add([poster_key])
            return
        _apply(current, outcome, poster_key, session_deletions=BlobDeletionRepository(session))
        # Exactly the text this content yielded: none when it failed or had nothing to extract, so
        # no earlier text outlives it in the pages, the cues or (through the reindex) the search index.
        pages = outcome.pages or []
        cues = outcome.cues or []
        await repository.replace_pages(current.id, pages)
        await repository.replace_cues(current.id, [(cue.start_s, cue.end_s, cue.text) for cue in cues])
        await repository.replace_screens(current.id, [])
        if outcome.video is not None and context.settings.ocr_enabled:
            # Text on screen is read by a job of its own (services.documents.screen_jobs), so the
            # video is playable meanwhile.
            for hook in AFTER_VIDEO_READY:
                await hook(session, current)
        enqueue_reindex(session, SEARCH_PARENT, current.resource_id)
    logger.info("file processed: %s (%s)", outcome.status, category)


def _same_content(file: ResourceFile, payload: dict[str, Any]) -> bool:
    # Jobs queued before payloads named the blob are taken to be about the current content.
    named: str = payload.get("blob_key", file.blob_key)
    return named == file.blob_key


@job_failure_hook(PROCESS_FILE_JOB)
async def record_that_processing_gave_up(session: AsyncSession, job: Job) -> None:
    """Every attempt failed (an error each time, or the worker dying under it): the file says so,
    instead of staying pending forever."""
    repository = ResourceRepository(session)
    file = await repository.get_file_by_id(uuid.UUID(job.payload["file_id"]))
    if file is None or not _same_content(file, job.payload):
        return
    if file.processing_status != ProcessingStatus.pending:
        return  # settled by another job for the same content
    file.processing_status = ProcessingStatus.failed
    file.processing_error = (
        f"The file could not be processed ({job.attempts} attempts); it is stored and can be downloaded"
    )
    file.processed_at = utcnow()
    await repository.clear_extracted_text(file.id)
    enqueue_reindex(session, SEARCH_PARENT, file.resource_id)


def _apply(
    file: ResourceFile, outcome: Outcome, poster_key: str | None, *, session_deletions: BlobDeletionRepository
) -> None:
    file.processing_status = outcome.status
    file.processing_error = outcome.error
    file.processed_at = utcnow()
    if outcome.sha256 and file.sha256 is None:
        file.sha256 = outcome.sha256
    if outcome.video is not None:
        file.duration_s = outcome.video.duration_s
        file.width = outcome.video.width
        file.height = outcome.video.height
    if poster_key is not None:
        session_deletions.add([file.poster_key])
        file.poster_key = poster_key
    file.page_count = (
        max((page.number for page in outcome.pages), default=0) if outcome.pages is not None else None
    )
