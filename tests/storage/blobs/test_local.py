"""What only the local store has: temporary files of writes that never finished."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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
