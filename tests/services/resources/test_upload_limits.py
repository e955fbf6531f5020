"""Resumable uploads answer their status from the parts' records, apply the type's limit at the
first part, and cap what one user may have open at once."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.app import create_app
from services.context import AppContext
from storage.blobs.s3 import S3BlobStore
from storage.models.resources import UploadSession
from tests import samples
from tests.services.resources.scenario import district
from tests.services.resources.test_uploads_api import (
    PART,
    padded_video,
    part,
    put_part,
    put_through_presigned_url,
    start,
)

pytestmark = pytest.mark.anyio


async def test_the_status_of_an_upload_comes_from_the_records_of_its_parts(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    content = padded_video(3 * PART + 10)
    upload = await start(world, content)
    sent = {number: await put_part(world, upload, content, number) for number in (3, 1)}
    assert {number: answer.status_code for number, answer in sent.items()} == {3: 200, 1: 200}
    # The store forgets the upload behind the API's back: a status read from the store would list
    # nothing; one read from the records still lists what was stored, as it was stored.
    async with context.sessionmaker() as session:
        row = await session.get(UploadSession, uuid.UUID(upload["id"]))
    assert row is not None
    await context.blob_store.abort_multipart_upload(row.blob_key, row.store_upload_id)

    state = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)

    assert state.status_code == 200
    assert state.json()["parts"] == [
        {"part_number": 1, "size": PART, "etag": sent[1].json()["etag"]},
        {"part_number": 3, "size": PART, "etag": sent[3].json()["etag"]},
    ]
    # Completing still asks the store, which decides: the parts are gone, the upload ends.
    ended = await client.post(f"/api/v1/uploads/{upload['id']}/complete", headers=world.teacher_auth)
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "upload_not_active"
    after = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)
    assert (after.json()["status"], after.json()["parts"]) == ("aborted", [])


async def test_parts_sent_through_presigned_urls_are_listed_from_the_store(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    content = padded_video(2 * PART + 10)
    upload = await start(world, content)
    assert (await put_part(world, upload, content, 1)).status_code == 200
    await put_through_presigned_url(world, upload, content, 3)

    state = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)

    assert [(part["part_number"], part["size"]) for part in state.json()["parts"]] == [(1, PART), (3, 10)]
    await put_through_presigned_url(world, upload, content, 2)
    done = await client.post(f"/api/v1/uploads/{upload['id']}/complete", headers=world.teacher_auth)
    assert done.status_code == 200, done.text


async def test_the_first_part_applies_the_limit_of_the_type_it_shows(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    context.settings.max_document_mb = 6
    pdf = samples.pdf_bytes(["教案"])
    content = pdf + b"\n%" + b"0" * (7 * 1024 * 1024 - len(pdf) - 2)  # a 7 MiB PDF
    # At start only the size is known, and 7 MiB fits a video: accepted.
    upload = await start(world, content, filename="教案.pdf")

    refused = await put_part(world, upload, content, 1)

    # Its first part shows a PDF, whose limit is 6 MB: refused now, not after the whole file.
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["details"] == [{"limit_bytes": 6 * 1024 * 1024}]
    state = await client.get(f"/api/v1/uploads/{upload['id']}", headers=world.teacher_auth)
    assert (state.json()["status"], state.json()["parts"]) == ("aborted", [])
    assert (await put_part(world, upload, content, 2)).status_code == 409
    await world.process()
    assert await world.blob_keys() == []

    # Beyond every type's limit, refused at start as before.
    context.settings.max_video_mb = context.settings.max_image_mb = 6
    too_big = await client.post(
        "/api/v1/uploads", json={"filename": "a.mp4", "size": 7 * 1024 * 1024}, headers=world.teacher_auth
    )
    assert too_big.status_code == 413


async def test_open_uploads_and_their_bytes_are_capped_per_user(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    context.settings.upload_max_open_per_user = 2
    context.settings.upload_max_open_mb_per_user = 25
    video = padded_video(PART + 10)

    first = await start(world, video, size=10 * 1024 * 1024)
    second = await start(world, video, size=10 * 1024 * 1024)
    third = await client.post(
        "/api/v1/uploads", json={"filename": "c.mp4", "size": 1024}, headers=world.teacher_auth
    )
    assert third.status_code == 429, third.text
    assert third.json()["error"]["code"] == "too_many_uploads"
    assert third.json()["error"]["details"] == [{"open_uploads": 2, "limit": 2}]
    # Someone else is not held back by this teacher's uploads.
    assert (
        await client.post(
            "/api/v1/uploads", json={"filename": "c.mp4", "size": 1024}, headers=world.colleague_auth
        )
    ).status_code == 201

    cancelled = await client.delete(f"/api/v1/uploads/{first['id']}", headers=world.teacher_auth)
    assert cancelled.status_code == 204
    over_bytes = await client.post(
        "/api/v1/uploads", json={"filename": "d.mp4", "size": 16 * 1024 * 1024}, headers=world.teacher_auth
    )
    assert over_bytes.status_code == 429, over_bytes.text
    assert over_bytes.json()["error"]["details"] == [
        {"open_bytes": 10 * 1024 * 1024, "requested_bytes": 16 * 1024 * 1024, "limit_bytes": 25 * 1024 * 1024}
    ]
    fits = await start(world, video, size=15 * 1024 * 1024)
    assert fits["status"] == "active"

    # A completed upload still holds its bytes until it is attached (or expires).
    await client.delete(f"/api/v1/uploads/{fits['id']}", headers=world.teacher_auth)
    await client.delete(f"/api/v1/uploads/{second['id']}", headers=world.teacher_auth)
    small = padded_video(PART + 10)
    done = await start(world, small)
    for number in (1, 2):
        assert (await put_part(world, done, small, number)).status_code == 200
    completed = await client.post(f"/api/v1/uploads/{done['id']}/complete", headers=world.teacher_auth)
    assert completed.status_code == 200
    assert (
        await client.post(
            "/api/v1/uploads",
            json={"filename": "e.mp4", "size": 20 * 1024 * 1024},
            headers=world.teacher_auth,
        )
    ).status_code == 429


async def test_parts_beyond_what_a_process_relays_at_once_get_503_with_retry_after(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    if not isinstance(context.blob_store, S3BlobStore):
        pytest.skip("the local store writes parts to disk; only S3 mode relays them")
    world = await district(client, context)
    content = padded_video(2 * PART + 10)
    upload = await start(world, content)
    store = S3BlobStore(context.blob_store.client, context.blob_store.bucket, max_concurrent_parts=1)
    narrow = create_app(context=dataclasses.replace(context, blob_store=store))
    release = asyncio.Event()

    async def slow_part() -> AsyncIterator[bytes]:
        yield content[: PART // 2]
        await release.wait()
        yield content[PART // 2 : PART]

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=narrow), base_url="http://testserver"
    ) as http:
        url = f"/api/v1/uploads/{upload['id']}/parts"
        first = asyncio.create_task(
            http.put(
                f"{url}/1", content=slow_part(), headers={**world.teacher_auth, "Content-Length": str(PART)}
            )
        )
        for _ in range(200):
            if store.relaying_parts:
                break
            await asyncio.sleep(0.01)
        second = await http.put(f"{url}/2", content=part(content, 2), headers=world.teacher_auth)
        release.set()
        assert (await first).status_code == 200
        assert second.status_code == 503, second.text
        assert second.headers["retry-after"] == "5"
        assert (
            await http.put(f"{url}/2", content=part(content, 2), headers=world.teacher_auth)
        ).status_code == 200
    await store.close()
