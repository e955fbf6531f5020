"""What only the local store has: temporary files of writes that never finished."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.blobs.base import new_blob_key
from storage.blobs.local import LocalBlobStore
from tests import stacks

pytestmark = pytest.mark.anyio


def aged(path: Path, hours: float) -> Path:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


async def test_leftovers_of_killed_writes_are_removed_once_old(tmp_path: Path) -> None:
    async with stacks.local_blob_store(tmp_path / "blobs") as store:
        assert isinstance(store, LocalBlobStore)
        root = tmp_path / "blobs"
        # A put killed (SIGKILL) mid-stream, an assembly killed midway, a start killed before its
        # manifest: and the same, fresh, as if still being written.
        old_put = root / "tmp" / "killed-put"
        old_put.write_bytes(b"half a video")
        aged(old_put, 2)
        fresh_put = root / "tmp" / "writing-now"
        fresh_put.write_bytes(b"still coming")
        no_manifest = root / "multipart" / ("0" * 32)
        no_manifest.mkdir()
        aged(no_manifest, 2)

        removed = await store.remove_temporary_files(datetime.now(UTC) - timedelta(hours=1))

        assert removed == 2
        assert not old_put.exists() and not no_manifest.exists()
        assert fresh_put.exists()


async def test_a_put_of_big_chunks_leaves_the_event_loop_free(tmp_path: Path) -> None:
    """Hashing happens in the writing thread: other requests keep being served during a big upload."""
    async with stacks.local_blob_store(tmp_path / "blobs") as store:
        chunk = os.urandom(64 * 1024 * 1024)
        count = 4
        # What hashing one chunk takes on this machine, now: the stall each chunk would cause if it
        # were hashed on the event loop. (Absolute times vary too much on a shared machine.)
        started = time.monotonic()
        hashlib.sha256(chunk)
        hash_s = time.monotonic() - started

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(count):
                yield chunk

        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.002)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticking = asyncio.create_task(ticker())
        stored = await store.put(new_blob_key("test"), chunks())
        done.set()
        await ticking

        assert stored.size == count * len(chunk)
        stalls = [gap for gap in gaps if gap > 0.75 * hash_s]
        # Hashed on the loop, every chunk would stall it; a busy machine may account for one.
        assert len(stalls) <= 1, f"{len(stalls)} stalls of {hash_s * 1000:.0f} ms or so: {stalls}"


async def test_listing_parts_reads_their_recorded_checksums_not_the_parts(tmp_path: Path) -> None:
    async with stacks.local_blob_store(tmp_path / "blobs") as store:
        key = new_blob_key("test")
        upload_id = await store.create_multipart_upload(key, content_type="video/mp4")

        async def chunks(data: bytes) -> AsyncIterator[bytes]:
            yield data

        stored = await store.upload_part(key, upload_id, 1, chunks(b"a" * 1000), size=1000)
        part_file = tmp_path / "blobs" / "multipart" / upload_id / "00001.part"
        # Changed in place (same file, same size): a listing that read the part would see it.
        with part_file.open("r+b") as handle:
            handle.write(b"b" * 1000)
        assert await store.list_parts(key, upload_id) == [stored]

        # A file the record does not name (replaced behind the store's back) is hashed instead.
        replacement = part_file.with_name("replacement")
        replacement.write_bytes(b"c" * 1000)
        os.replace(replacement, part_file)
        (listed,) = await store.list_parts(key, upload_id)
        assert listed.etag == hashlib.md5(b"c" * 1000, usedforsecurity=False).hexdigest()
