"""Resumable uploads for large recordings on weak school networks.

initiate → parts (any order, each retry-safe, straight to MinIO through presigned URLs in S3 mode)
→ complete (parts assembled, type checked by magic bytes) → attach to a resource, or abort. The
session lives in the database and the parts in the store, so any replica can continue it and a
dropped connection resumes from the parts already stored. Sessions not finished in time expire.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Collection
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.errors import AppError, Conflict, NotFound, PayloadTooLarge, ServiceUnavailable
from services.maintenance.repository import BlobDeletionRepository
from services.observability import metrics
from services.resources.filetypes import SNIFF_BYTES, DetectedType, FileCategory
from services.resources.intake import (
    BLOB_PREFIX,
    StagedBlob,
    check_filename,
    check_size,
    check_type,
    size_limit,
)
from services.resources.repository import UploadRepository
from services.resources.schemas import UploadCreate
from services.resources.service import check_can_upload
from services.settings import Settings
from storage.blobs.base import (
    DEFAULT_PART_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    BlobBusy,
    BlobError,
    BlobNotFound,
    BlobStat,
    BlobStore,
    BlobStoreUnavailable,
    InvalidBlobRequest,
    UploadedPart,
    new_blob_key,
)
from storage.database import utcnow
from storage.models.resources import UploadSession, UploadStatus

PART_URL_TTL = timedelta(hours=1)
MEBIBYTE = 1024 * 1024


class UploadNotActive(AppError):
    status_code = 409
    code = "upload_not_active"


class ChecksumMismatch(AppError):
    status_code = 422
    code = "checksum_mismatch"


class TooManyUploads(AppError):
    status_code = 429
    code = "too_many_uploads"


def _unavailable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(f"Object storage is unavailable, try again shortly ({exc})")


def part_count(upload: UploadSession) -> int:
    return math.ceil(upload.size / upload.part_size)


def expected_part_size(upload: UploadSession, part_number: int) -> int:
    count = part_count(upload)
    if part_number < count:
        return upload.part_size
    return upload.size - (count - 1) * upload.part_size


def choose_part_size(size: int, requested: int | None) -> int:
    if requested is not None:
        part_size = requested
    else:
        # Grow parts for huge files so they stay within the store's part limit, in whole MiB.
        part_size = max(DEFAULT_PART_SIZE, math.ceil(size / (MAX_PARTS - 1) / MEBIBYTE) * MEBIBYTE)
    if part_size > MAX_PART_SIZE:
        raise PayloadTooLarge(
            f"Resumable uploads hold at most {MAX_PARTS} parts of {MAX_PART_SIZE // MEBIBYTE} MiB"
        )
    if math.ceil(size / part_size) > MAX_PARTS:
        raise AppError(f"part_size too small: at most {MAX_PARTS} parts", 422, code="invalid_payload")
    return part_size


def detected_of(upload: UploadSession) -> DetectedType | None:
    if not upload.detected:
        return None
    return DetectedType(
        format=upload.detected["format"],
        media_type=upload.detected["media_type"],
        extension=upload.detected["extension"],
        category=FileCategory(upload.detected["category"]),
    )


# What a resource's files may be: audio (reading aloud) only comes in with submissions.
RESOURCE_FILE_CATEGORIES = frozenset(FileCategory) - {FileCategory.audio}


async def start_upload(
    session: AsyncSession, store: BlobStore, settings: Settings, principal: Principal, data: UploadCreate
) -> UploadSession:
    if not authz.can_start_upload(principal):
        check_can_upload(principal)
    filename = check_filename(data.filename)
    if authz.can_upload(principal):
        # A teacher's upload becomes a file of a resource, which is never audio (audio is handed in).
        largest = max(size_limit(settings, category) for category in RESOURCE_FILE_CATEGORIES)
    else:
        # A student's upload can only become a file of their submission.
        largest = min(
            max(size_limit(settings, category) for category in FileCategory),
            settings.max_submission_file_mb * MEBIBYTE,
        )
    if data.size > largest:
        raise PayloadTooLarge(f"Files are limited to {largest // MEBIBYTE} MB")
    part_size = choose_part_size(data.size, data.part_size)
    await _check_quota(session, settings, principal, data.size)
    key = new_blob_key(BLOB_PREFIX)
    try:
        store_upload_id = await store.create_multipart_upload(key, content_type="application/octet-stream")
    except BlobError as exc:
        raise _unavailable(exc) from exc
    upload = UploadSession(
        id=uuid.uuid4(),
        owner_id=principal.user_id,
        filename=filename,
        size=data.size,
        part_size=part_size,
        sha256=data.sha256,
        blob_key=key,
        store_upload_id=store_upload_id,
        status=UploadStatus.active,
        expires_at=utcnow() + timedelta(hours=settings.upload_ttl_hours),
    )
    UploadRepository(session).add(upload)
    await session.flush()
    return upload


async def _check_quota(session: AsyncSession, settings: Settings, principal: Principal, size: int) -> None:
    """Refuse a new upload beyond the user's open uploads or the bytes they may have open at once:
    an upload reserves storage (and a multipart upload in the store) from its start."""
    count, declared = await UploadRepository(session).open_uploads(principal.user_id, utcnow())
    if count >= settings.upload_max_open_per_user:
        raise TooManyUploads(
            f"You have {count} unfinished uploads (at most {settings.upload_max_open_per_user}); "
            "finish, attach or cancel some first",
            details=[{"open_uploads": count, "limit": settings.upload_max_open_per_user}],
        )
    limit = settings.upload_max_open_mb_per_user * MEBIBYTE
    if declared + size > limit:
        raise TooManyUploads(
            f"Your unfinished uploads would hold {(declared + size) // MEBIBYTE} MB "
            f"(at most {settings.upload_max_open_mb_per_user} MB at once); "
            "finish, attach or cancel some first",
            details=[{"open_bytes": declared, "requested_bytes": size, "limit_bytes": limit}],
        )


async def own_upload(
    session: AsyncSession, principal: Principal, upload_id: uuid.UUID, *, for_update: bool = False
) -> UploadSession:
    upload = await UploadRepository(session).get(upload_id, for_update=for_update)
    # Someone else's upload is not theirs to know about: 404, as for one that does not exist.
    if upload is None or not authz.can_use_upload(principal, upload.owner_id):
        raise NotFound("Upload not found")
    return upload


def _require_active(upload: UploadSession, now: datetime) -> None:
    if upload.status != UploadStatus.active or upload.expires_at <= now:
        state = "expired" if upload.status == UploadStatus.active else upload.status.value
        raise UploadNotActive(f"This upload is {state}; start a new one")


async def stored_parts(session: AsyncSession, store: BlobStore, upload: UploadSession) -> list[UploadedPart]:
    """The parts stored so far: from their records, made as each was stored, without reading the parts
    again. Only an upload that handed out presigned part URLs asks the store, which alone saw those."""
    if upload.status != UploadStatus.active:
        return []
    if not upload.direct_parts:
        return [
            UploadedPart(part_number=part.part_number, etag=part.etag, size=part.size)
            for part in await UploadRepository(session).recorded_parts(upload.id)
        ]
    try:
        return await store.list_parts(upload.blob_key, upload.store_upload_id)
    except InvalidBlobRequest:
        return []
    except BlobError as exc:
        raise _unavailable(exc) from exc


def _check_part_number(upload: UploadSession, part_number: int) -> None:
    if not 1 <= part_number <= part_count(upload):
        raise AppError(f"part_number must be between 1 and {part_count(upload)}", 422, code="invalid_payload")


def check_part_size_header(upload: UploadSession, part_number: int, content_length: str | None) -> None:
    """Refuse a part of the wrong size before reading it, when the client said its size."""
    _check_part_number(upload, part_number)
    expected = expected_part_size(upload, part_number)
    if content_length is not None and content_length.isdigit() and int(content_length) != expected:
        raise AppError(
            f"part {part_number} must be {expected} bytes, got {content_length}", 422, code="invalid_part"
        )


async def _exactly(
    chunks: AsyncIterable[bytes], expected: int, part_number: int, head: bytearray
) -> AsyncIterator[bytes]:
    """The part's bytes as they arrive, refused (422) as soon as they are more, or at their end fewer,
    than the part holds. Raised inside the store's upload_part, which then stores nothing. The first
    SNIFF_BYTES are kept in `head`."""
    received = 0
    async for chunk in chunks:
        if len(head) < SNIFF_BYTES:
            head.extend(chunk[: SNIFF_BYTES - len(head)])
        received += len(chunk)
        if received > expected:
            raise AppError(f"part {part_number} must be {expected} bytes", 422, code="invalid_part")
        yield chunk
    if received != expected:
        raise AppError(
            f"part {part_number} must be {expected} bytes, got {received}", 422, code="invalid_part"
        )


async def put_part(
    session: AsyncSession,
    store: BlobStore,
    settings: Settings,
    principal: Principal,
    upload_id: uuid.UUID,
    part_number: int,
    chunks: AsyncIterable[bytes],
) -> tuple[UploadedPart, AppError | None]:
    """Stream one part to the store (memory stays bounded whatever the part size) and record it.

    The first part holds the file's first bytes, so its type and that type's size limit are checked
    against the declared size as soon as it is stored, not after the whole file: content refused
    then ends the upload, and the refusal is returned (as by complete_upload) to be committed.
    """
    upload = await own_upload(session, principal, upload_id)
    _require_active(upload, utcnow())
    _check_part_number(upload, part_number)
    expected = expected_part_size(upload, part_number)
    head = bytearray()
    started = time.perf_counter()
    try:
        part = await store.upload_part(
            upload.blob_key,
            upload.store_upload_id,
            part_number,
            _exactly(chunks, expected, part_number, head),
            size=expected,
        )
    except InvalidBlobRequest as exc:
        # The store no longer knows the upload (aborted or expired behind our back).
        raise UploadNotActive("This upload can no longer take parts; start a new one") from exc
    except BlobBusy as exc:
        raise AppError(str(exc), 503, code="service_unavailable", headers={"Retry-After": "5"}) from exc
    except BlobStoreUnavailable as exc:
        raise _unavailable(exc) from exc
    metrics.record_upload("resumable", part.size, time.perf_counter() - started)
    if part_number == 1:
        try:
            detected = check_type(bytes(head), upload.filename, set(FileCategory), "The file")
            check_size(settings, detected, upload.size)
        except AppError as refusal:
            await _end(session, store, upload)
            return part, refusal
    await UploadRepository(session).record_part(upload.id, part.part_number, part.size, part.etag)
    return part, None


async def _end(session: AsyncSession, store: BlobStore, upload: UploadSession) -> None:
    """Abort an active upload: its parts leave the store and its records go."""
    try:
        await store.abort_multipart_upload(upload.blob_key, upload.store_upload_id)
    except InvalidBlobRequest:
        pass
    except BlobError as exc:
        raise _unavailable(exc) from exc
    upload.status = UploadStatus.aborted
    await UploadRepository(session).forget_parts(upload.id)


async def part_urls(
    session: AsyncSession, store: BlobStore, principal: Principal, upload_id: uuid.UUID, numbers: list[int]
) -> tuple[datetime, list[tuple[int, str]]]:
    upload = await own_upload(session, principal, upload_id)
    _require_active(upload, utcnow())
    # From now on parts may reach the store without passing here: only its listing knows them all.
    upload.direct_parts = True
    urls = []
    for number in dict.fromkeys(numbers):
        _check_part_number(upload, number)
        try:
            url = await store.presigned_upload_part_url(
                upload.blob_key, upload.store_upload_id, number, expires=PART_URL_TTL
            )
        except BlobError as exc:
            raise _unavailable(exc) from exc
        urls.append((number, url))
    return utcnow() + PART_URL_TTL, urls


async def _read_head(store: BlobStore, key: str, size: int) -> bytes:
    head = bytearray()
    async for chunk in store.get(key, start=0, end=min(size, SNIFF_BYTES) - 1):
        head.extend(chunk)
    return bytes(head)


async def _assemble(store: BlobStore, upload: UploadSession) -> BlobStat | None:
    """The upload's parts made one object, or the object an earlier complete made of them.

    An earlier call may have completed the multipart upload in the store and then failed to commit
    (the database went away, the client's request was cut): the store then knows the upload no more
    and lists no parts, but the object is there. That counts as done, so completing is idempotent.
    None when neither is there.
    """
    try:
        listed = await store.list_parts(upload.blob_key, upload.store_upload_id)
    except InvalidBlobRequest:
        return await _already_assembled(store, upload)
    parts = {part.part_number: part for part in listed}
    missing = [number for number in range(1, part_count(upload) + 1) if number not in parts]
    if missing:
        raise Conflict(
            f"{len(missing)} parts are missing; upload them and complete again",
            details=[{"missing_parts": missing[:1000]}],
        )
    wrong = [
        number
        for number, part in parts.items()
        if number > part_count(upload) or part.size != expected_part_size(upload, number)
    ]
    if wrong:
        raise Conflict("Some parts have the wrong size; upload them again", details=[{"parts": wrong}])
    ordered = [parts[number] for number in range(1, part_count(upload) + 1)]
    try:
        return await store.complete_multipart_upload(upload.blob_key, upload.store_upload_id, ordered)
    except InvalidBlobRequest:
        # Completed between our listing and now by a concurrent call.
        return await _already_assembled(store, upload)


async def _already_assembled(store: BlobStore, upload: UploadSession) -> BlobStat | None:
    try:
        stat = await store.stat(upload.blob_key)
    except BlobNotFound:
        return None
    return stat if stat.size == upload.size else None


def _check_declared_sha256(upload: UploadSession, sha256: str | None) -> None:
    if upload.sha256 and sha256 and sha256 != upload.sha256:
        raise ChecksumMismatch(
            "The assembled file does not match the sha256 given when the upload started; "
            "the upload is ended, start a new one",
            details=[{"declared_sha256": upload.sha256, "actual_sha256": sha256}],
        )


async def complete_upload(
    session: AsyncSession, store: BlobStore, settings: Settings, principal: Principal, upload_id: uuid.UUID
) -> tuple[UploadSession, AppError | None]:
    """Assemble the parts and check what they are; calling it again after success is harmless.

    Content that is refused ends the session; the refusal is returned rather than raised so the
    caller can commit that ending along with its error response.
    """
    upload = await own_upload(session, principal, upload_id, for_update=True)
    if upload.status == UploadStatus.completed:
        return upload, None
    _require_active(upload, utcnow())
    try:
        assembled = await _assemble(store, upload)
        if assembled is None:
            # Neither the parts nor the object: removed behind our back (an expiry rule, say).
            upload.status = UploadStatus.aborted
            return upload, UploadNotActive("This upload's parts are gone from storage; start a new one")
        head = await _read_head(store, upload.blob_key, upload.size)
    except BlobStoreUnavailable as exc:
        raise _unavailable(exc) from exc
    try:
        detected = check_type(head, upload.filename, set(FileCategory), "The file")
        check_size(settings, detected, upload.size)
        _check_declared_sha256(upload, assembled.sha256)
    except AppError as refusal:
        # The parts are one object by now and cannot be resumed: the upload ends, the bytes go.
        BlobDeletionRepository(session).add([upload.blob_key])
        upload.status = UploadStatus.aborted
        await UploadRepository(session).forget_parts(upload.id)
        return upload, refusal
    upload.detected = {
        "format": detected.format,
        "media_type": detected.media_type,
        "extension": detected.extension,
        "category": detected.category.value,
        # Known here when the store hashed the parts as it assembled them (the local store); in S3
        # mode processing computes it, as it reads the whole file anyway.
        "sha256": assembled.sha256,
    }
    upload.status = UploadStatus.completed
    await UploadRepository(session).forget_parts(upload.id)
    # Leave time to attach it; after that the bytes are collected.
    upload.expires_at = utcnow() + timedelta(hours=settings.upload_ttl_hours)
    return upload, None


async def abort_upload(
    session: AsyncSession, store: BlobStore, principal: Principal, upload_id: uuid.UUID
) -> None:
    upload = await own_upload(session, principal, upload_id, for_update=True)
    if upload.status == UploadStatus.active:
        await _end(session, store, upload)
    elif upload.status == UploadStatus.completed:
        BlobDeletionRepository(session).add([upload.blob_key])
        upload.status = UploadStatus.aborted
    else:
        raise UploadNotActive(f"This upload is already {upload.status.value}")


async def take_completed(
    session: AsyncSession,
    principal: Principal,
    upload_id: uuid.UUID,
    allowed: Collection[FileCategory],
    what: str,
) -> StagedBlob:
    """Hand a completed upload's blob over to a resource file (once)."""
    upload = await own_upload(session, principal, upload_id, for_update=True)
    if upload.status != UploadStatus.completed:
        raise UploadNotActive(
            f"This upload is {upload.status.value}; only a completed upload can be attached"
        )
    detected = detected_of(upload)
    if detected is None:
        raise UploadNotActive("This upload has not been checked yet; complete it again")
    if detected.category not in allowed:
        kinds = "/".join(sorted(category.value for category in allowed))
        raise AppError(
            f"{what} must be {kinds}; {upload.filename!r} is {detected.format}",
            415,
            code="unsupported_media_type",
        )
    if not await UploadRepository(session).change_status(
        upload, UploadStatus.completed, UploadStatus.attached
    ):
        # Another request attached it a moment ago: one upload is one file.
        raise UploadNotActive("This upload was attached meanwhile; only a completed upload can be attached")
    # Computed (and checked against the declared one) at completion, when the store could.
    sha256 = (upload.detected or {}).get("sha256")
    return StagedBlob(
        key=upload.blob_key,
        size=upload.size,
        sha256=sha256,
        filename=upload.filename,
        detected=detected,
        expected_sha256=None if sha256 else upload.sha256,
        from_upload=True,
    )
