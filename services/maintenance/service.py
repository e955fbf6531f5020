"""Keeping blobs and rows in step: deferred blob deletion, upload expiry and `jiaoyun gc`.

A blob is written before the row that references it commits, and deleted only after the row that
referenced it is gone, so a crash can leave an unreferenced blob but never a row without its blob
(short of someone deleting objects behind Jiaoyun's back, which gc reports).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import timedelta

from services.assignments.repository import SubmissionRepository
from services.assignments.retention import purge_expired_submissions
from services.collections.repository import CollectionRepository
from services.context import AppContext
from services.identity import service as identity
from services.maintenance.repository import BlobDeletionRepository, MaintenanceRunRepository
from services.resources import service as resources
from services.resources.repository import ResourceRepository, UploadRepository
from services.video import service as video
from storage.blobs.base import BlobError, BlobNotFound, PendingMultipartUpload
from storage.database import utcnow
from storage.models.resources import ProcessingStatus, UploadStatus

logger = logging.getLogger(__name__)

DELETION_BATCH = 100
EXPIRY_BATCH = 100
GC_BATCH = 500
# Everything Jiaoyun writes lives under these prefixes; anything else in the bucket is not ours.
MANAGED_PREFIXES = ("res/", "poster/", "video/", "sub/", "cover/")
MISSING_CONTENT = "The file's content is missing from object storage"


@dataclass
class GcReport:
    expired_uploads: int = 0
    deleted_blobs: int = 0
    orphan_blobs_removed: int = 0
    files_missing_content: int = 0
    posters_missing: int = 0
    # Store-side multipart uploads no upload session owns (a put killed mid-stream, a row lost).
    orphan_multipart_uploads_aborted: int = 0
    # Local store only: files of writes killed midway.
    temporary_files_removed: int = 0
    # Students' work past JIAOYUN_SUBMISSION_RETENTION_DAYS after its school year.
    expired_submissions_removed: int = 0

    def lines(self) -> list[str]:
        return [f"{field.name.replace('_', ' ')}: {getattr(self, field.name)}" for field in fields(self)]

    @property
    def fixed_anything(self) -> bool:
        return any(getattr(self, field.name) for field in fields(self))


async def drain_blob_deletions(context: AppContext) -> int:
    async with context.sessionmaker() as session, session.begin():
        repository = BlobDeletionRepository(session)
        pending = await repository.claim(DELETION_BATCH)
        done: list[int] = []
        for deletion in pending:
            try:
                await context.blob_store.delete(deletion.blob_key)
            except BlobError as exc:
                # Store down: keep the rest for the next round.
                logger.warning("blob deletion postponed: %s", exc)
                deletion.attempts += 1
                break
            done.append(deletion.id)
        await repository.remove(done)
        return len(done)


async def expire_uploads(context: AppContext) -> int:
    expired = 0
    async with context.sessionmaker() as session, session.begin():
        for upload in await UploadRepository(session).expired(utcnow(), EXPIRY_BATCH):
            if upload.status == UploadStatus.active:
                try:
                    await context.blob_store.abort_multipart_upload(upload.blob_key, upload.store_upload_id)
                except BlobError as exc:
                    logger.info("abort of expired upload %s: %s", upload.id, exc)
            else:
                BlobDeletionRepository(session).add([upload.blob_key])
            upload.status = UploadStatus.expired
            await UploadRepository(session).forget_parts(upload.id)
            expired += 1
    return expired


async def _remove_orphan_blobs(context: AppContext, grace: timedelta, report: GcReport) -> None:
    cutoff = utcnow() - grace

    async def settle(keys: list[str]) -> None:
        async with context.sessionmaker() as session:
            referenced = await ResourceRepository(session).referenced_blob_keys(keys)
            referenced |= await SubmissionRepository(session).referenced_blob_keys(keys)
            referenced |= await BlobDeletionRepository(session).pending_keys(keys)
            referenced |= await video.live_prefixes(session, keys)
            referenced |= await CollectionRepository(session).referenced_cover_keys(keys)
        for key in keys:
            if key in referenced:
                continue
            try:
                stat = await context.blob_store.stat(key)
            except BlobNotFound:
                continue
            if stat.last_modified < cutoff:
                await context.blob_store.delete(key)
                report.orphan_blobs_removed += 1

    for prefix in MANAGED_PREFIXES:
        batch: list[str] = []
        async for key in context.blob_store.list_keys(prefix):
            batch.append(key)
            if len(batch) >= GC_BATCH:
                await settle(batch)
                batch = []
        if batch:
            await settle(batch)


async def _abort_orphan_multipart_uploads(context: AppContext, grace: timedelta, report: GcReport) -> None:
    """Multipart uploads are invisible to list_keys but keep their parts' bytes: abort those idle for
    the grace period that no active upload session owns (a streamed put updates its upload with
    every part, so a long one is never idle)."""

    async def settle(idle: list[PendingMultipartUpload]) -> None:
        async with context.sessionmaker() as session:
            owned = await UploadRepository(session).active_store_upload_ids(
                [pending.upload_id for pending in idle]
            )
        for pending in idle:
            if pending.upload_id not in owned and pending.key.startswith(MANAGED_PREFIXES):
                await context.blob_store.abort_multipart_upload(pending.key, pending.upload_id)
                report.orphan_multipart_uploads_aborted += 1

    batch: list[PendingMultipartUpload] = []
    async for pending in context.blob_store.idle_multipart_uploads(utcnow() - grace):
        batch.append(pending)
        if len(batch) >= GC_BATCH:
            await settle(batch)
            batch = []
    if batch:
        await settle(batch)


async def _flag_rows_without_blobs(context: AppContext, report: GcReport) -> None:
    after = None
    while True:
        async with context.sessionmaker() as session, session.begin():
            files = await ResourceRepository(session).files_page(after, GC_BATCH)
            if not files:
                return
            after = files[-1].id
            for file in files:
                already_flagged = file.processing_error == MISSING_CONTENT
                if not already_flagged and not await context.blob_store.exists(file.blob_key):
                    file.processing_status = ProcessingStatus.failed
                    file.processing_error = MISSING_CONTENT
                    report.files_missing_content += 1
                if file.poster_key and not await context.blob_store.exists(file.poster_key):
                    file.poster_key = None
                    report.posters_missing += 1


async def collect_garbage(context: AppContext, *, grace: timedelta | None = None) -> GcReport:
    """Reconcile the blob store with the database; returns what was fixed."""
    report = GcReport()
    if grace is None:
        grace = timedelta(minutes=context.settings.gc_grace_minutes)
    while count := await expire_uploads(context):
        report.expired_uploads += count
    report.expired_submissions_removed = await purge_expired_submissions(context)
    while count := await drain_blob_deletions(context):
        report.deleted_blobs += count
    await _remove_orphan_blobs(context, grace, report)
    await _abort_orphan_multipart_uploads(context, grace, report)
    report.temporary_files_removed = await context.blob_store.remove_temporary_files(utcnow() - grace)
    await _flag_rows_without_blobs(context, report)
    return report


async def run_maintenance_if_due(context: AppContext) -> int:
    minutes = context.settings.maintenance_interval_minutes
    if minutes <= 0:
        return 0
    async with context.sessionmaker() as session, session.begin():
        due = await MaintenanceRunRepository(session).take_turn("gc", utcnow(), timedelta(minutes=minutes))
    if not due:
        return 0
    report = await collect_garbage(context)
    if report.fixed_anything:
        logger.info("maintenance: %s", "; ".join(report.lines()))
    # Not counted as work done: the worker must not spin because maintenance ran.
    return 0


# Records that only matter for a while: signed-out tokens until they expire, views within their window.
EXPIRED_RECORDS_INTERVAL = timedelta(minutes=10)


async def forget_expired_records_if_due(context: AppContext) -> int:
    """One worker per interval drops revoked tokens past their expiry and view records past their
    window; neither changes anything any more."""
    async with context.sessionmaker() as session, session.begin():
        due = await MaintenanceRunRepository(session).take_turn(
            "expired records", utcnow(), EXPIRED_RECORDS_INTERVAL
        )
        if due:
            await identity.forget_expired_revocations(session)
            await resources.forget_old_views(session, context.settings)
    # Not counted as work done, like gc.
    return 0
