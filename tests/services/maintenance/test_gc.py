"""`jiaoyun gc`: blobs and rows reconciled, and what was fixed reported."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from services.context import AppContext
from services.maintenance.service import MISSING_CONTENT, collect_garbage, run_maintenance_if_due
from services.resources.repository import ResourceRepository
from storage.blobs.base import new_blob_key
from storage.database import utcnow
from tests import samples
from tests.services.resources.scenario import district, main_file

pytestmark = pytest.mark.anyio


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_gc_removes_orphans_and_flags_rows_whose_blob_vanished(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    kept = await world.created("a.pdf", samples.pdf_bytes(["保留"]), resource_type="lesson_plan")
    broken = await world.created("b.pdf", samples.pdf_bytes(["丢失"]), resource_type="lesson_plan")
    await world.process()
    # A blob whose row never committed (a crash mid-request), and one outside Jiaoyun's prefixes.
    orphan = new_blob_key("res")
    await context.blob_store.put(orphan, chunks(b"%PDF-1.4 orphan"))
    foreign = "backups/keep-me"
    await context.blob_store.put(foreign, chunks(b"not ours"))
    # Someone deletes an object behind Jiaoyun's back.
    async with context.sessionmaker() as session:
        files = await ResourceRepository(session).files_of_resource(uuid.UUID(broken["id"]))
    await context.blob_store.delete(files[0].blob_key)

    young = await collect_garbage(context)  # default grace: the orphan may still be mid-commit
    assert (young.orphan_blobs_removed, young.files_missing_content) == (0, 1)
    report = await collect_garbage(context, grace=timedelta(0))

    assert (report.orphan_blobs_removed, report.files_missing_content) == (1, 0)
    keys = set(await world.blob_keys())
    assert orphan not in keys and foreign in keys
    assert main_file(await world.detail(kept["id"]))["processing_status"] == "ready"
    flagged = main_file(await world.detail(broken["id"]))
    assert (flagged["processing_status"], flagged["processing_error"]) == ("failed", MISSING_CONTENT)
    assert not (await collect_garbage(context, grace=timedelta(0))).fixed_anything


async def test_periodic_maintenance_runs_once_per_interval(context: AppContext) -> None:
    context.settings.maintenance_interval_minutes = 60
    orphan = new_blob_key("res")
    await context.blob_store.put(orphan, chunks(b"x"))
    context.settings.gc_grace_minutes = 0

    await run_maintenance_if_due(context)
    assert not await context.blob_store.exists(orphan)

    await context.blob_store.put(orphan, chunks(b"x"))
    await run_maintenance_if_due(context)  # within the interval: another worker's turn already taken
    assert await context.blob_store.exists(orphan)


async def test_gc_aborts_multipart_uploads_no_upload_owns(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    store = context.blob_store
    # A put killed mid-stream (its parts never completed, no row ever written) …
    orphan_key = new_blob_key("res")
    orphan_id = await store.create_multipart_upload(orphan_key, content_type="video/mp4")
    await store.upload_part(orphan_key, orphan_id, 1, chunks(b"half a video"), size=12)
    # … a teacher's resumable upload, paused but still theirs, and someone else's upload in the bucket.
    resumable = await client.post(
        "/api/v1/uploads", json={"filename": "课例.mp4", "size": 10}, headers=world.teacher_auth
    )
    assert resumable.status_code == 201, resumable.text
    foreign_id = await store.create_multipart_upload("backups/nightly", content_type="application/gzip")

    young = await collect_garbage(context)  # default grace: the put may still be streaming
    assert young.orphan_multipart_uploads_aborted == 0
    report = await collect_garbage(context, grace=timedelta(0))

    assert report.orphan_multipart_uploads_aborted == 1
    assert "orphan multipart uploads aborted: 1" in report.lines()
    assert any(line.startswith("temporary files removed: ") for line in report.lines())
    left = {
        pending.upload_id async for pending in store.idle_multipart_uploads(utcnow() + timedelta(minutes=1))
    }
    assert orphan_id not in left and foreign_id in left
    state = await client.get(f"/api/v1/uploads/{resumable.json()['id']}", headers=world.teacher_auth)
    assert state.json()["status"] == "active"
    assert not (await collect_garbage(context, grace=timedelta(0))).fixed_anything
    await store.abort_multipart_upload("backups/nightly", foreign_id)
