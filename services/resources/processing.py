"""The worker's part: probe videos and cut posters, extract document text, parse subtitles.

Runs outside any request. The blob is copied to a private temporary file (FFmpeg and the Office
readers want to seek), the slow work runs in a thread, and the results are written in one short
transaction, unless the file was replaced or deleted meanwhile.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyio import to_thread

from services.context import AppContext
from services.indexing.service import enqueue_reindex
from services.jobs.worker import job_handler
from services.maintenance.repository import BlobDeletionRepository
from services.resources import extraction
from services.resources.filetypes import FileCategory
from services.resources.repository import ResourceRepository
from services.resources.service import PROCESS_FILE_JOB, SEARCH_PARENT
from storage.blobs.base import BlobNotFound, new_blob_key
from storage.database import utcnow
from storage.models.resources import ProcessingStatus, ResourceFile

POSTER_PREFIX = "poster"
EXTRACTABLE_DOCUMENTS = frozenset({"pdf", "docx", "pptx"})
MAX_SUBTITLE_BYTES = 20 * 1024 * 1024


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


def _analyse(path: Path, format: str, category: str) -> Outcome:
    """The slow part, in a worker thread. Only ExtractionError is expected from the libraries."""
    try:
        if category == FileCategory.video:
            info = extraction.probe_video(path)
            return Outcome(video=info, poster=extraction.video_poster_jpeg(path))
        if category == FileCategory.document:
            if format not in EXTRACTABLE_DOCUMENTS:
                return Outcome(status=ProcessingStatus.skipped)
            return Outcome(pages=extraction.extract_pages(path, format))
        if category == FileCategory.subtitle:
            if path.stat().st_size > MAX_SUBTITLE_BYTES:
                raise extraction.ExtractionError("The subtitle file is too large")
            return Outcome(cues=extraction.parse_subtitles(path.read_bytes()))
        return Outcome(status=ProcessingStatus.skipped)
    except extraction.ExtractionError as exc:
        return Outcome(status=ProcessingStatus.failed, error=str(exc))


async def _download(context: AppContext, key: str, target: Path) -> str:
    digest = hashlib.sha256()
    handle = await to_thread.run_sync(target.open, "wb")
    try:
        chunks: AsyncIterator[bytes] = context.blob_store.get(key)
        async for chunk in chunks:
            digest.update(chunk)
            await to_thread.run_sync(handle.write, chunk)
    finally:
        await to_thread.run_sync(handle.close)
    return digest.hexdigest()


async def _single(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


@job_handler(PROCESS_FILE_JOB)
async def process_file(context: AppContext, payload: dict[str, Any]) -> None:
    file_id = uuid.UUID(payload["file_id"])
    async with context.sessionmaker() as session:
        file = await ResourceRepository(session).get_file_by_id(file_id)
        if file is None:
            return  # deleted before its turn came
        blob_key, format, category = file.blob_key, file.format, file.category

    with tempfile.TemporaryDirectory(prefix="jiaoyun-process-") as workdir:
        path = Path(workdir) / "content"
        try:
            sha256 = await _download(context, blob_key, path)
        except BlobNotFound:
            outcome = Outcome(status=ProcessingStatus.failed, error="The file's content is missing")
        else:
            outcome = await to_thread.run_sync(_analyse, path, format, category)
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
        await repository.replace_pages(current.id, [(page.number, page.text) for page in pages])
        await repository.replace_cues(current.id, [(cue.start_s, cue.end_s, cue.text) for cue in cues])
        enqueue_reindex(session, SEARCH_PARENT, current.resource_id)


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
