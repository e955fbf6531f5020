"""Photos of written work, shown upright and light: the worker applies the EXIF orientation a phone
camera records (instead of turning the pixels) and keeps a compressed JPEG beside the original."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from anyio import to_thread

from services.assignments.repository import SubmissionRepository
from services.assignments.service import PREVIEW_JOB, SUBMISSION_PREFIX
from services.context import AppContext
from services.jobs.worker import job_handler
from services.lazy_imports import lazy_module
from services.maintenance.repository import BlobDeletionRepository
from storage.blobs.base import BlobNotFound, new_blob_key

if TYPE_CHECKING:
    from PIL import Image
else:
    # Pillow: loaded by the worker that makes previews, not by the API.
    Image = lazy_module("PIL.Image")

PREVIEW_LONG_SIDE = 1600
PREVIEW_QUALITY = 80
# Refuse decompression bombs: a phone photo is ~12-50 megapixels.
MAX_PIXELS = 80_000_000


def make_preview(data: bytes) -> bytes:
    from PIL import ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image) or image
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        upright.thumbnail((PREVIEW_LONG_SIDE, PREVIEW_LONG_SIDE))
        out = io.BytesIO()
        upright.save(out, format="JPEG", quality=PREVIEW_QUALITY, optimize=True)
        return out.getvalue()


async def _single(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


@job_handler(PREVIEW_JOB)
async def make_submission_preview(context: AppContext, payload: dict[str, Any]) -> None:
    file_id = uuid.UUID(payload["file_id"])
    async with context.sessionmaker() as session:
        file = await SubmissionRepository(session).file(file_id)
        if file is None:
            return  # resubmitted or removed before its turn
        blob_key = file.blob_key
    data = bytearray()
    try:
        async for chunk in context.blob_store.get(blob_key):
            data.extend(chunk)
    except BlobNotFound:
        return
    try:
        preview = await to_thread.run_sync(make_preview, bytes(data))
    except (OSError, ValueError, Image.DecompressionBombError):
        preview = None
    preview_key = None
    if preview is not None:
        preview_key = new_blob_key(SUBMISSION_PREFIX)
        await context.blob_store.put(preview_key, _single(preview), content_type="image/jpeg")
    async with context.sessionmaker() as session, session.begin():
        current = await SubmissionRepository(session).file(file_id)
        if current is None:
            BlobDeletionRepository(session).add([preview_key])
            return
        BlobDeletionRepository(session).add([current.preview_key])
        current.preview_key = preview_key
        current.preview_status = "ready" if preview_key else "failed"
