"""The words in handed-in work, for the teachers' search: the worker reads the text of PDF, DOCX and
PPTX files and photos (OCR, as the settings allow) with the same readers as resources
(services.resources.processing), in an isolated child under the processing limits, and keeps it per
file, cut at `submission_text_max_chars`. It never reaches the public search index."""

from __future__ import annotations

import logging
import tempfile
import uuid
from pathlib import Path
from typing import Any

from services.assignments.repository import SubmissionRepository
from services.assignments.service import TEXT_JOB
from services.context import AppContext
from services.jobs import isolation
from services.jobs.isolation import ChildLimits
from services.jobs.worker import job_handler
from services.resources import processing
from services.resources.filetypes import FileCategory
from storage.blobs.base import BlobNotFound
from storage.models.assignments import SubmissionFileText

logger = logging.getLogger(__name__)


def bounded(pages: list[dict[str, Any]], max_chars: int) -> tuple[str, bool]:
    """The pages' text on one page each, cut at `max_chars`; whether it was cut."""
    text = "\n".join(str(page.get("text", "")).strip() for page in pages).strip()
    return text[:max_chars], len(text) > max_chars


async def _read(context: AppContext, path: Path, format: str, category: str) -> dict[str, Any]:
    settings = context.settings
    try:
        answer: dict[str, Any] = await isolation.run_in_child(
            processing.analyse_in_child,
            str(path),
            format,
            category,
            settings.ocr_enabled,
            settings.ocr_max_pages,
            limits=ChildLimits(settings.processing_timeout_s, settings.processing_memory_mb),
            task="Reading the handed-in work",
        )
    except isolation.ChildFailed as exc:
        return {"status": "failed", "error": str(exc), "pages": None}
    return answer


@job_handler(TEXT_JOB)
async def read_submission_text(context: AppContext, payload: dict[str, Any]) -> None:
    file_id = uuid.UUID(payload["file_id"])
    max_chars = context.settings.submission_text_max_chars
    async with context.sessionmaker() as session:
        file = await SubmissionRepository(session).file(file_id)
        if file is None or max_chars == 0:
            return  # resubmitted or removed before its turn, or reading is off
        blob_key, format, category = file.blob_key, file.format, file.category
    if category == FileCategory.image and not context.settings.ocr_enabled:
        answer: dict[str, Any] = {"status": "skipped", "pages": None}  # photos are read by OCR only
    else:
        with tempfile.TemporaryDirectory(prefix="jiaoyun-submission-") as workdir:
            path = Path(workdir) / "content"
            try:
                await processing.download(context, blob_key, path)
            except BlobNotFound:
                return
            answer = await _read(context, path, format, category)
    text, truncated = bounded(answer.get("pages") or [], max_chars)
    async with context.sessionmaker() as session, session.begin():
        repository = SubmissionRepository(session)
        current = await repository.file(file_id)
        if current is None:
            return
        await repository.save_text(
            SubmissionFileText(
                file_id=current.id,
                submission_id=current.submission_id,
                status=str(answer.get("status", "ready")),
                error=answer.get("error"),
                text=text,
                truncated=truncated,
            )
        )
    logger.info("submission text read: %s (%s, %d characters)", answer.get("status"), category, len(text))
