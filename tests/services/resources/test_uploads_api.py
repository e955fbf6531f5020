"""Resumable uploads: parts in any order, retried, resumed after a dropped connection, then attached."""

from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from services.context import AppContext
from services.maintenance.service import collect_garbage
from storage.blobs.base import MAX_PART_SIZE
from storage.database import utcnow
from storage.models.resources import UploadSession
from tests import samples
from tests.factories import resource_metadata
from tests.services.resources.scenario import District, district, main_file
from tests.services.resources.test_large_upload import peak_rss_growth

pytestmark = pytest.mark.anyio

PART = 5 * 1024 * 1024


def padded_video(total: int) -> bytes:
    """A real MP4 grown to ``total`` bytes with a trailing ISO-BMFF ``free`` box, which players skip."""
    video = samples.mp4_bytes(duration_s=1.0)
    padding = total - len(video)
    return (
        video
        + struct.pack(">I", padding)
        + b"free"
        + bytes(range(256)) * ((padding - 8) // 256)
        + b"\0" * ((padding - 8) % 256)
    )


async def start(world: District, content: bytes, **overrides: Any) -> dict[str, Any]:
    body = {"filename": "磨课 第一次.mp4", "size": len(content), "part_size": PART, **overrides}
    response = await world.client.post("/api/v1/uploads", json=body, headers=world.teacher_auth)
    assert response.status_code == 201, response.text
    upload: dict[str, Any] = response.json()
    return upload


def part(content: bytes, number: int) -> bytes:
    return content[(number - 1) * PART : number * PART]


async def put_part(world: District, upload: dict[str, Any], content: bytes, number: int) -> httpx.Response:
    return await world.client.put(
        f"/api/v1/uploads/{upload['id']}/parts/{number}",
        content=part(content, number),
        headers=world.teacher_auth,
    )


async def put_through_presigned_url(
    world: District, upload: dict[str, Any], content: bytes, number: int
) -> None:
    response = await world.client.post(
        f"/api/v1/uploads/{upload['id']}/part-urls",
        json={"part_numbers": [number]},
        headers=world.teacher_auth,
    )
    assert response.status_code == 200, response.text
    url = response.json()["urls"][0]["url"]
    if url.startswith("http://testserver"):
        # Embedded mode: the link points back at the API, which signs and serves it.
        sent = await world.client.put(url, content=part(content, number))
    else:
        # S3 mode: straight to MinIO; the API is not in the data path.
        async with httpx.AsyncClient() as direct:
            sent = await direct.put(url, content=part(content, number))
    assert sent.status_code in {200, 204}, sent.text


async def test_an_interrupted_upload_resumes_and_gives_identical_bytes(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    content = padded_video(2 * PART + 123_457)
    upload = await start(world, content, sha256=hashlib.sha256(content).hexdigest())
    assert (upload["part_count"], upload["part_size"], upload["status"]) == (3, PART, "active")

    # Parts out of order, one sent twice (a retry after a timeout), then the connection drops.
    assert (await put_part(world, upload, content, 3)).status_code == 200
    assert (await put_part(world, upload, content, 1)).status_code == 200
    assert (await put_part(world, upload, content, 1)).status_code == 200
    early = await client.post(f"/api/v1/uploads/{upload['id']}/complete", headers=world.teacher_auth)
    assert early.status_code == 409 and early.json()["error"]["details"] == [{"missing_parts": [2]}]

    # The client comes back: asks what is stored and sends only the rest.
    state = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)
    assert [stored["part_number"] for stored in state.json()["parts"]] == [1, 3]
    await put_through_presigned_url(world, upload, content, 2)

    completed = await client.post(f"/api/v1/uploads/{upload['id']}/complete", headers=world.teacher_auth)
    assert completed.status_code == 200, completed.text
    assert (completed.json()["status"], completed.json()["detected_format"]) == ("completed", "mp4")
    again = await client.post(f"/api/v1/uploads/{upload['id']}/complete", headers=world.teacher_auth)
    assert again.status_code == 200

    created = await client.post(
        "/api/v1/resources",
        json=resource_metadata(resource_type="lesson_record", upload_id=upload["id"]),
        headers=world.teacher_auth,
    )
    assert created.status_code == 201, created.text
    video = main_file(created.json())
    digest = hashlib.sha256(content).hexdigest()
    # The local store hashes the parts as it assembles them; S3 assembles them itself, and
    # processing, which reads the whole file anyway, computes the sha256 there.
    known_at_once = digest if context.blob_store.name == "local" else None
    assert (video["filename"], video["size"], video["sha256"]) == (
        "磨课 第一次.mp4",
        len(content),
        known_at_once,
    )

    served = await client.get(video["content_url"], headers=world.teacher_auth)
    assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(content).hexdigest()
    await world.process()
    video = main_file(await world.detail(created.json()["id"]))
    assert video["sha256"] == hashlib.sha256(content).hexdigest()
    assert video["processing_status"] == "ready", video["processing_error"]

    reused = await client.post(
        "/api/v1/resources",
        json=resource_metadata(resource_type="lesson_record", upload_id=upload["id"]),
        headers=world.teacher_auth,
    )
    assert reused.status_code == 409


async def test_parts_of_the_wrong_size_and_foreign_uploads_are_refused(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    content = padded_video(PART + 10)
    upload = await start(world, content)

    short = await client.put(
        f"/api/v1/uploads/{upload['id']}/parts/1", content=b"x" * 100, headers=world.teacher_auth
    )
    assert short.status_code == 422 and short.json()["error"]["code"] == "invalid_part"
    beyond = await client.put(
        f"/api/v1/uploads/{upload['id']}/parts/3", content=b"x", headers=world.teacher_auth
    )
    assert beyond.status_code == 422
    for method, path in (
        ("GET", ""),
        ("PUT", "/parts/1"),
        ("POST", "/complete"),
        ("DELETE", ""),
    ):
        response = await client.request(
            method,
            f"/api/v1/uploads/{upload['id']}{path}",
            headers=world.colleague_auth,
            content=part(content, 1),
        )
        assert response.status_code == 404, (method, path, response.text)
    # Students upload only what they hand in, within the submission limit (tests/services/assignments).
    student = await client.post(
        "/api/v1/uploads", json={"filename": "a.mp4", "size": 10**9}, headers=world.student_auth
    )
    assert student.status_code == 413
    huge = await client.post(
        "/api/v1/uploads", json={"filename": "a.mp4", "size": 10**13}, headers=world.teacher_auth
    )
    assert huge.status_code == 413
    traversal = await client.post(
        "/api/v1/uploads", json={"filename": "../a.mp4", "size": 10}, headers=world.teacher_auth
    )
    assert traversal.status_code == 422


async def test_refused_content_ends_the_upload_and_leaves_nothing(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    content = b"MZ\x90\x00" + b"\x00" * (PART + 5)  # a Windows executable, named like a video
    upload = await start(world, content, filename="lesson.mp4")

    # The first part holds the file's first bytes: refused there, not after the whole file.
    refused = await put_part(world, upload, content, 1)

    assert refused.status_code == 415, refused.text
    state = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)
    assert state.json()["status"] == "aborted"
    assert (await put_part(world, upload, content, 2)).status_code == 409
    await world.process()
    assert await world.blob_keys() == []

    # Parts sent around the API (presigned URLs) are checked at complete, as before.
    direct = await start(world, content, filename="lesson.mp4")
    for number in (1, 2):
        await put_through_presigned_url(world, direct, content, number)
    late = await client.post(f"/api/v1/uploads/{direct['id']}/complete", headers=world.teacher_auth)
    assert late.status_code == 415, late.text
    await world.process()
    assert await world.blob_keys() == []


async def test_aborted_and_abandoned_uploads_are_cleaned(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    content = padded_video(PART + 10)

    aborted = await start(world, content)
    await put_part(world, aborted, content, 1)
    assert (
        await client.delete(f"/api/v1/uploads/{aborted['id']}", headers=world.teacher_auth)
    ).status_code == 204
    assert (await put_part(world, aborted, content, 2)).status_code == 409

    abandoned = await start(world, content)
    await put_part(world, abandoned, content, 1)
    finished_but_never_used = await start(world, content)
    for number in (1, 2):
        await put_part(world, finished_but_never_used, content, number)
    completed = await client.post(
        f"/api/v1/uploads/{finished_but_never_used['id']}/complete", headers=world.teacher_auth
    )
    assert completed.status_code == 200
    assert len(await world.blob_keys()) == 1

    async with context.sessionmaker() as session, session.begin():
        await session.execute(update(UploadSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    report = await collect_garbage(context, grace=timedelta(0))

    assert report.expired_uploads == 2
    for upload in (abandoned, finished_but_never_used):
        state = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)
        assert state.json()["status"] == "expired" and state.json()["parts"] == []
    assert await world.blob_keys() == []
    assert not (await collect_garbage(context, grace=timedelta(0))).fixed_anything


async def test_a_part_streams_to_the_store_and_a_short_retry_keeps_the_stored_copy(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    big_part = MAX_PART_SIZE
    upload = await start(world, b"", size=big_part + 10, part_size=big_part)
    url = f"/api/v1/uploads/{upload['id']}/parts/1"

    # The first part decides the file's type, so it starts as a real video does.
    first_block = padded_video(1024 * 1024)

    async def body(size: int) -> AsyncIterator[bytes]:
        block = bytes(range(256)) * 4096  # 1 MiB
        for offset in range(0, size, len(block)):
            yield (first_block if offset == 0 else block)[: size - offset]

    with peak_rss_growth() as growth:
        sent = await client.put(
            url, content=body(big_part), headers={**world.teacher_auth, "Content-Length": str(big_part)}
        )
    assert sent.status_code == 200, sent.text
    # Written to disk, or sent on to S3, as it arrives: never gathered in memory (it was, in S3 mode).
    assert growth[0] < big_part // 4, f"RSS grew by {growth[0] / 2**20:.1f} MiB"

    # A retry that breaks off (no Content-Length to refuse it early): refused, the stored copy stays.
    short = await client.put(url, content=body(big_part - 1), headers=world.teacher_auth)
    assert short.status_code == 422 and short.json()["error"]["code"] == "invalid_part"
    state = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)
    assert [(p["part_number"], p["size"]) for p in state.json()["parts"]] == [(1, big_part)]


async def test_a_declared_sha256_that_does_not_match_is_caught(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    content = padded_video(PART + 10)
    upload = await start(world, content, sha256=hashlib.sha256(b"something else").hexdigest())
    for number in (1, 2):
        assert (await put_part(world, upload, content, number)).status_code == 200

    completed = await client.post(f"/api/v1/uploads/{upload['id']}/complete", headers=world.teacher_auth)

    if context.blob_store.name == "local":
        # Checked at complete: the parts are one object by then, so the upload ends with its bytes.
        assert completed.status_code == 422, completed.text
        assert completed.json()["error"]["code"] == "checksum_mismatch"
        state = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)
        assert state.json()["status"] == "aborted"
        await world.process()
        assert await world.blob_keys() == []
        return
    # S3 assembles server-side without a sha256: the worker checks it while processing.
    assert completed.status_code == 200, completed.text
    created = await client.post(
        "/api/v1/resources",
        json=resource_metadata(resource_type="lesson_record", upload_id=upload["id"]),
        headers=world.teacher_auth,
    )
    await world.process()
    video = main_file(await world.detail(created.json()["id"]))
    assert video["processing_status"] == "failed" and "sha256" in video["processing_error"]


async def test_complete_is_idempotent_when_the_store_finished_but_the_database_did_not(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    content = padded_video(PART + 10)
    upload = await start(world, content)
    for number in (1, 2):
        assert (await put_part(world, upload, content, number)).status_code == 200
    # A complete whose store call went through but whose commit was lost: the store has assembled
    # the object and forgotten the upload, the row is still active.
    async with context.sessionmaker() as session:
        row = await session.get(UploadSession, uuid.UUID(upload["id"]))
    assert row is not None
    store = context.blob_store
    await store.complete_multipart_upload(
        row.blob_key, row.store_upload_id, await store.list_parts(row.blob_key, row.store_upload_id)
    )

    retried = await client.post(f"/api/v1/uploads/{upload['id']}/complete", headers=world.teacher_auth)

    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["detected_format"]) == ("completed", "mp4")
    created = await client.post(
        "/api/v1/resources",
        json=resource_metadata(resource_type="lesson_record", upload_id=upload["id"]),
        headers=world.teacher_auth,
    )
    assert created.status_code == 201, created.text
    served = await client.get(main_file(created.json())["content_url"], headers=world.teacher_auth)
    assert served.content == content

    # Parts and object both gone (removed behind our back): the upload ends with a clear 409.
    gone = await start(world, content)
    await put_part(world, gone, content, 1)
    async with context.sessionmaker() as session:
        row = await session.get(UploadSession, uuid.UUID(gone["id"]))
    assert row is not None
    await store.abort_multipart_upload(row.blob_key, row.store_upload_id)
    ended = await client.post(f"/api/v1/uploads/{gone['id']}/complete", headers=world.teacher_auth)
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "upload_not_active"
    state = await client.get(f"/api/v1/uploads/{gone['id']}", headers=world.teacher_auth)
    assert state.json()["status"] == "aborted"
