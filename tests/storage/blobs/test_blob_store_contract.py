"""One contract for every BlobStore: local disk and S3 (MinIO) must behave the same."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from services.app import create_app
from services.context import build_context
from storage.blobs.base import (
    MAX_PART_SIZE,
    MIN_PART_SIZE,
    BlobNotFound,
    BlobStore,
    InvalidBlobRequest,
    new_blob_key,
)
from storage.blobs.local import LocalBlobStore
from tests import stacks

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def read_all(store: BlobStore, key: str, start: int | None = None, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.get(key, start=start, end=end)])


def http_for(store: BlobStore, tmp_path: Path) -> httpx.AsyncClient:
    """Presigned URLs of the local store are served by the API; S3's by the S3 server itself."""
    if isinstance(store, LocalBlobStore):
        context = dataclasses.replace(
            build_context(stacks.settings_for_tests(tmp_path / "app")), blob_store=store
        )
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(context=context)))
    return httpx.AsyncClient(timeout=30)


async def test_put_get_stat_roundtrip(blob_store: BlobStore) -> None:
    data = os.urandom(300_000)
    key = new_blob_key("test")
    stored = await blob_store.put(key, chunks_of(data), content_type="video/mp4")
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(blob_store, key) == data
    stat = await blob_store.stat(key)
    assert (stat.size, stat.content_type) == (len(data), "video/mp4")
    assert await blob_store.exists(key)


async def test_put_of_unknown_length_spanning_several_parts(blob_store: BlobStore) -> None:
    data = os.urandom(17 * MiB + 123)
    key = new_blob_key("test")
    stored = await blob_store.put(key, chunks_of(data, MiB))
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert hashlib.sha256(await read_all(blob_store, key)).hexdigest() == stored.sha256


async def test_empty_object(blob_store: BlobStore) -> None:
    key = new_blob_key("test")
    stored = await blob_store.put(key, chunks_of(b""))
    assert stored.size == 0
    assert await read_all(blob_store, key) == b""
    assert (await blob_store.stat(key)).size == 0


async def test_byte_ranges(blob_store: BlobStore) -> None:
    data = bytes(range(256)) * 4000
    key = new_blob_key("test")
    await blob_store.put(key, chunks_of(data))
    assert await read_all(blob_store, key, 1000, 1999) == data[1000:2000]
    assert await read_all(blob_store, key, len(data) - 10) == data[-10:]
    assert await read_all(blob_store, key, 5, 5) == data[5:6]
    assert await read_all(blob_store, key, 0, len(data) * 2) == data
    with pytest.raises(InvalidBlobRequest):
        await read_all(blob_store, key, len(data) + 1)


async def test_missing_objects(blob_store: BlobStore) -> None:
    key = new_blob_key("test")
    with pytest.raises(BlobNotFound):
        await blob_store.stat(key)
    with pytest.raises(BlobNotFound):
        await read_all(blob_store, key)
    assert not await blob_store.exists(key)
    await blob_store.delete(key)


async def test_delete(blob_store: BlobStore) -> None:
    key = new_blob_key("test")
    await blob_store.put(key, chunks_of(b"gone soon"))
    await blob_store.delete(key)
    assert not await blob_store.exists(key)


@pytest.mark.parametrize(
    "key", ["../escape", "a/../../b", "/absolute", "Upper/Case", "with space", "", "a//b"]
)
async def test_keys_that_are_not_minted_keys_are_refused(blob_store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobRequest):
        await blob_store.put(key, chunks_of(b"x"))
    keys = [existing async for existing in blob_store.list_keys()]
    assert keys == []


async def test_failed_stream_leaves_nothing(blob_store: BlobStore) -> None:
    key = new_blob_key("test")

    async def broken() -> AsyncIterator[bytes]:
        # Far enough for a part to be uploading while the next one fills when the client vanishes.
        for _ in range(3):
            yield os.urandom(7 * MiB)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await blob_store.put(key, broken())
    assert not await blob_store.exists(key)


async def test_list_keys_by_prefix(blob_store: BlobStore) -> None:
    first, second, other = new_blob_key("videos"), new_blob_key("videos"), new_blob_key("docs")
    for key in (first, second, other):
        await blob_store.put(key, chunks_of(b"x"))
    assert sorted([key async for key in blob_store.list_keys("videos/")]) == sorted([first, second])
    assert len([key async for key in blob_store.list_keys()]) == 3


async def test_presigned_get_and_put(blob_store: BlobStore, tmp_path: Path) -> None:
    data = "树和喜鹊 课件".encode() * 100
    key = new_blob_key("test")
    async with http_for(blob_store, tmp_path) as http:
        put_url = await blob_store.presigned_put_url(key, expires=timedelta(minutes=5))
        response = await http.put(put_url, content=data, headers={"Content-Type": "application/pdf"})
        assert response.status_code == 200, response.text
        assert (await blob_store.stat(key)).size == len(data)

        get_url = await blob_store.presigned_get_url(
            key, expires=timedelta(minutes=5), download_name="树和喜鹊.pdf"
        )
        response = await http.get(get_url)
        assert response.status_code == 200
        assert response.content == data
        assert "树和喜鹊.pdf" in unquote(response.headers["content-disposition"])

        response = await http.get(get_url, headers={"Range": "bytes=3-8"})
        assert response.status_code == 206
        assert response.content == data[3:9]


async def test_presigned_get_is_tamper_proof(blob_store: BlobStore, tmp_path: Path) -> None:
    key = new_blob_key("test")
    await blob_store.put(key, chunks_of(b"secret"))
    url = await blob_store.presigned_get_url(key, expires=timedelta(minutes=5))
    tampered = url.replace(key, new_blob_key("test")) if key in url else url[:-3] + "AAA"
    async with http_for(blob_store, tmp_path) as http:
        assert (await http.get(tampered)).status_code in {403, 404}


async def test_multipart_out_of_order_with_retries(blob_store: BlobStore) -> None:
    parts_data = [os.urandom(MIN_PART_SIZE), os.urandom(MIN_PART_SIZE), os.urandom(1234)]
    key = new_blob_key("test")
    upload_id = await blob_store.create_multipart_upload(key, content_type="video/mp4")
    await blob_store.upload_part(key, upload_id, 3, chunks_of(parts_data[2]), size=len(parts_data[2]))
    await blob_store.upload_part(key, upload_id, 1, chunks_of(parts_data[0]), size=len(parts_data[0]))
    # A retried part (the client never saw the first answer) replaces the earlier copy.
    await blob_store.upload_part(key, upload_id, 1, chunks_of(parts_data[0]), size=len(parts_data[0]))
    await blob_store.upload_part(key, upload_id, 2, chunks_of(parts_data[1]), size=len(parts_data[1]))
    listed = await blob_store.list_parts(key, upload_id)
    assert [part.part_number for part in listed] == [1, 2, 3]
    assert [part.size for part in listed] == [len(data) for data in parts_data]
    assert not await blob_store.exists(key)

    stat = await blob_store.complete_multipart_upload(key, upload_id, listed)
    whole = b"".join(parts_data)
    assert stat.size == len(whole)
    assert stat.content_type == "video/mp4"
    assert hashlib.sha256(await read_all(blob_store, key)).digest() == hashlib.sha256(whole).digest()


async def test_close_after_relaying_a_part_and_again(blob_store: BlobStore) -> None:
    """The app closes its store once at shutdown (AppContext.close), whatever it held by then; a second
    close does nothing."""
    key = new_blob_key("test")
    upload_id = await blob_store.create_multipart_upload(key, content_type="video/mp4")
    await blob_store.upload_part(key, upload_id, 1, chunks_of(b"part"), size=4)
    await blob_store.abort_multipart_upload(key, upload_id)
    await blob_store.close()
    await blob_store.close()


async def test_multipart_through_presigned_part_urls(blob_store: BlobStore, tmp_path: Path) -> None:
    parts_data = [os.urandom(MIN_PART_SIZE), os.urandom(777)]
    key = new_blob_key("test")
    upload_id = await blob_store.create_multipart_upload(key, content_type="application/octet-stream")
    async with http_for(blob_store, tmp_path) as http:
        for number, data in enumerate(parts_data, start=1):
            url = await blob_store.presigned_upload_part_url(
                key, upload_id, number, expires=timedelta(minutes=5)
            )
            response = await http.put(url, content=data)
            assert response.status_code == 200, response.text
            assert response.headers["etag"]
    parts = await blob_store.list_parts(key, upload_id)
    await blob_store.complete_multipart_upload(key, upload_id, parts)
    assert await read_all(blob_store, key) == b"".join(parts_data)


async def test_multipart_abort_and_bad_completion(blob_store: BlobStore) -> None:
    key = new_blob_key("test")
    upload_id = await blob_store.create_multipart_upload(key, content_type="video/mp4")
    part = await blob_store.upload_part(key, upload_id, 1, chunks_of(b"only part"), size=len(b"only part"))
    forged = dataclasses.replace(part, etag="0" * 32)
    with pytest.raises(InvalidBlobRequest):
        await blob_store.complete_multipart_upload(key, upload_id, [forged])
    with pytest.raises(InvalidBlobRequest):
        await blob_store.complete_multipart_upload(key, upload_id, [])
    await blob_store.abort_multipart_upload(key, upload_id)
    with pytest.raises(InvalidBlobRequest):
        await blob_store.complete_multipart_upload(key, upload_id, [part])
    assert not await blob_store.exists(key)
    # Aborting twice is harmless.
    await blob_store.abort_multipart_upload(key, upload_id)


async def test_a_part_of_another_length_than_declared_stores_nothing(blob_store: BlobStore) -> None:
    key = new_blob_key("test")
    upload_id = await blob_store.create_multipart_upload(key, content_type="video/mp4")
    first = os.urandom(MIN_PART_SIZE)
    await blob_store.upload_part(key, upload_id, 1, chunks_of(first), size=len(first))
    # A retry of part 1 that breaks off, and one that runs on: the copy stored before stays.
    for wrong in (first[:-1], first + b"x"):
        with pytest.raises(InvalidBlobRequest):
            await blob_store.upload_part(key, upload_id, 1, chunks_of(wrong, MiB), size=len(first))
    with pytest.raises(InvalidBlobRequest):
        await blob_store.upload_part(key, upload_id, 2, chunks_of(b"x"), size=MAX_PART_SIZE + 1)
    listed = await blob_store.list_parts(key, upload_id)
    assert [(part.part_number, part.size) for part in listed] == [(1, len(first))]
    await blob_store.complete_multipart_upload(key, upload_id, listed)
    assert await read_all(blob_store, key) == first


async def test_part_numbers_are_bounded(blob_store: BlobStore) -> None:
    key = new_blob_key("test")
    upload_id = await blob_store.create_multipart_upload(key, content_type="video/mp4")
    for number in (0, 10_001):
        with pytest.raises(InvalidBlobRequest):
            await blob_store.upload_part(key, upload_id, number, chunks_of(b"x"), size=len(b"x"))
    await blob_store.abort_multipart_upload(key, upload_id)


async def test_idle_multipart_uploads_are_listed_until_aborted(blob_store: BlobStore) -> None:
    key, other = new_blob_key("test"), new_blob_key("test")
    upload_id = await blob_store.create_multipart_upload(key, content_type="video/mp4")
    await blob_store.upload_part(key, upload_id, 1, chunks_of(b"part"), size=4)
    completed_id = await blob_store.create_multipart_upload(other, content_type="video/mp4")
    part = await blob_store.upload_part(other, completed_id, 1, chunks_of(b"done"), size=4)
    await blob_store.complete_multipart_upload(other, completed_id, [part])

    async def idle(since: datetime) -> list[tuple[str, str]]:
        return [
            (pending.key, pending.upload_id) async for pending in blob_store.idle_multipart_uploads(since)
        ]

    # Used a moment ago: not idle since an hour ago. Everything is idle since a minute from now.
    assert await idle(datetime.now(UTC) - timedelta(hours=1)) == []
    assert await idle(datetime.now(UTC) + timedelta(minutes=1)) == [(key, upload_id)]
    await blob_store.abort_multipart_upload(key, upload_id)
    assert await idle(datetime.now(UTC) + timedelta(minutes=1)) == []


async def test_remove_temporary_files_leaves_live_data_alone(blob_store: BlobStore) -> None:
    key = new_blob_key("test")
    await blob_store.put(key, chunks_of(b"kept"))
    upload_id = await blob_store.create_multipart_upload(new_blob_key("test"), content_type="video/mp4")
    assert await blob_store.remove_temporary_files(datetime.now(UTC) + timedelta(minutes=1)) == 0
    assert await read_all(blob_store, key) == b"kept"
    assert [
        pending.upload_id
        async for pending in blob_store.idle_multipart_uploads(datetime.now(UTC) + timedelta(minutes=1))
    ] == [upload_id]
