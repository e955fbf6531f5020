"""A 200 MB lesson recording goes through the API in constant memory, on both stacks."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest

from services.context import AppContext
from tests import samples
from tests.factories import resource_metadata
from tests.services.resources.scenario import district, main_file

pytestmark = pytest.mark.anyio

SIZE = 200 * 1024 * 1024
CHUNK = 1024 * 1024
RSS_BUDGET = 64 * 1024 * 1024
BOUNDARY = "jiaoyun-large-upload"


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_rss_growth() -> Iterator[list[int]]:
    """Samples this process's resident memory while the block runs; yields [growth] when done."""
    baseline = resident_bytes()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], resident_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = [0]
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        result[0] = max(peak[0], resident_bytes()) - baseline


async def multipart_body(metadata: str, digest: hashlib._Hash) -> AsyncIterator[bytes]:
    """A multipart request whose file is a real MP4 header followed by a ``free`` box, made on the fly."""
    video = samples.mp4_bytes(duration_s=1.0)
    padding = SIZE - len(video)
    head = video + struct.pack(">I", padding) + b"free"
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{metadata}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="整节课.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    digest.update(head)
    yield head
    remaining = SIZE - len(head)
    zeros = bytes(CHUNK)
    while remaining:
        chunk = zeros if remaining >= CHUNK else zeros[:remaining]
        digest.update(chunk)
        remaining -= len(chunk)
        yield chunk
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_a_200_mb_video_streams_through_in_constant_memory(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    metadata = resource_metadata(resource_type="lesson_record", title="整节课实录")
    digest = hashlib.sha256()

    with peak_rss_growth() as growth:
        response = await client.post(
            "/api/v1/resources",
            content=multipart_body(json.dumps(metadata, ensure_ascii=False), digest),
            headers={**world.teacher_auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            timeout=300,
        )

    assert response.status_code == 201, response.text
    video = main_file(response.json())
    assert (video["size"], video["sha256"]) == (SIZE, digest.hexdigest())
    stat = await context.blob_store.stat((await world.blob_keys())[0])
    assert stat.size == SIZE
    assert growth[0] < RSS_BUDGET, f"RSS grew by {growth[0] / 2**20:.1f} MiB"
