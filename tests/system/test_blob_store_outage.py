"""MinIO stopped while uploads stream in: every request is answered 201 or a clean 503, never a 500;
no row is left without its blob, and `jiaoyun gc` afterwards finds nothing to fix."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from services.context import AppContext
from storage.models.resources import ResourceFile
from tests import samples
from tests.factories import resource_metadata, upload_form
from tests.live import run_cli
from tests.system.conftest import Figures, Processes
from tests.system.harness import (
    PrivateServers,
    Tenant,
    expect,
    iter_status_lines,
    outage,
    populate,
    wait_for,
)

pytestmark = [pytest.mark.anyio, pytest.mark.fault]

MIB = 1024 * 1024
BOUNDARY = "jiaoyun-fault-upload"
# Big enough to go to MinIO as several 8 MiB parts, slow enough to be mid-way when MinIO stops.
STREAMED_MIB = 48
STREAM_MIB_PER_S = 12.0
STREAMING_UPLOADS = 3
SMALL_UPLOADS_DURING = 20


def video_of(size: int) -> bytes:
    """The head of a real MP4 and the header of a ``free`` box that pads it to ``size`` bytes."""
    video = samples.mp4_bytes(duration_s=1.0)
    return video + struct.pack(">I", size - len(video)) + b"free"


async def slow_multipart(metadata: dict[str, object], size: int) -> AsyncIterator[bytes]:
    head = video_of(size)
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
        f"{json.dumps(metadata, ensure_ascii=False)}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="录像.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    yield head
    remaining = size - len(head)
    chunk = bytes(MIB // 4)
    while remaining:
        piece = chunk[: min(len(chunk), remaining)]
        remaining -= len(piece)
        yield piece
        await asyncio.sleep(len(piece) / MIB / STREAM_MIB_PER_S)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def streamed_upload(client: httpx.AsyncClient, auth: dict[str, str], number: int) -> str:
    """'201', '503', or the transport error the client saw when the server answered mid-body."""
    metadata = resource_metadata(resource_type="lesson_record", title=f"停机时上传的课例 {number}")
    try:
        response = await client.post(
            "/api/v1/resources",
            content=slow_multipart(metadata, STREAMED_MIB * MIB),
            headers={**auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            timeout=120,
        )
    except httpx.TransportError as exc:
        return type(exc).__name__
    if response.status_code == 503:
        assert response.json()["error"]["code"] == "service_unavailable"
    return str(response.status_code)


async def rows_without_blobs(context: AppContext) -> list[str]:
    async with context.sessionmaker() as session:
        keys = (await session.scalars(select(ResourceFile.blob_key))).all()
    return [key for key in keys if not await context.blob_store.exists(key)]


async def test_uploads_while_minio_is_down_get_503_and_leave_nothing_behind(
    private_servers: PrivateServers, tenant: Tenant, processes: Processes, tmp_path: Path, figures: Figures
) -> None:
    api = processes.api()
    processes.worker()
    pdf = samples.pdf_bytes(["对象存储停机演练"])
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as client:
        people = await populate(client, tenant.env(), tmp_path, teachers=2)
        teacher = people.teachers[0]
        before = expect(
            await client.post(
                "/api/v1/resources", files=upload_form(resource_metadata(), "a.pdf", pdf), headers=teacher
            ),
            201,
        )
        doomed = expect(
            await client.post(
                "/api/v1/resources", files=upload_form(resource_metadata(), "b.pdf", pdf), headers=teacher
            ),
            201,
        )
        content_url = before["versions"][0]["files"][0]["content_url"]

        streams = [
            asyncio.create_task(streamed_upload(client, teacher, number))
            for number in range(STREAMING_UPLOADS)
        ]
        await asyncio.sleep(1.5)  # every stream is some parts into its multipart upload
        outcomes: Counter[str] = Counter()
        async with outage(private_servers, "minio"):
            down_since = time.monotonic()
            for number in range(SMALL_UPLOADS_DURING):
                response = await client.post(
                    "/api/v1/resources",
                    files=upload_form(resource_metadata(title=f"停机 {number}"), f"{number}.pdf", pdf),
                    headers=people.teachers[number % 2],
                )
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "service_unavailable"
                outcomes["small upload 503"] += 1
            resumable = await client.post(
                "/api/v1/uploads", json={"filename": "大录像.mp4", "size": 100 * MIB}, headers=teacher
            )
            assert resumable.status_code == 503, resumable.text
            served = await client.get(content_url, headers=teacher)
            assert served.status_code == 503, served.text
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and "blob_store" in ready.text
            # Metadata still works; a deletion is accepted and its blob removed once MinIO is back.
            expect(await client.get("/api/v1/resources", headers=teacher), 200)
            expect(await client.get("/api/v1/search", params={"q": "演练"}, headers=teacher), 200)
            expect(await client.delete(f"/api/v1/resources/{doomed['id']}", headers=teacher), 204)
            stream_outcomes = await asyncio.gather(*streams)
            down_s = time.monotonic() - down_since
        outcomes.update(f"streamed upload {outcome}" for outcome in stream_outcomes)

        await wait_for(lambda: _ready(client), timeout_s=60, what="/readyz 200 after MinIO returned")
        after = await client.post(
            "/api/v1/resources", files=upload_form(resource_metadata(), "c.pdf", pdf), headers=teacher
        )
        assert after.status_code == 201, after.text

        async with tenant.context(tmp_path / "inspect") as context:
            assert await rows_without_blobs(context) == []
            # The resources uploaded before and after, and any stream that finished before the stop.
            kept = 2 + stream_outcomes.count("201")

            async def deletions_done() -> bool:
                return len([key async for key in context.blob_store.list_keys("res/")]) == kept

            await wait_for(deletions_done, timeout_s=60, what="the deleted resource's blob removed")
        incomplete = await asyncio.to_thread(tenant.incomplete_multipart_uploads)

    statuses = Counter(status for request, status in iter_status_lines(api.log_text()) if "POST" in request)
    assert statuses[500] == 0 and "unhandled error" not in api.log_text()
    # The server answered each streamed upload it could not finish with a 503, read by the client or not.
    assert statuses[503] == SMALL_UPLOADS_DURING + 1 + sum(
        1 for outcome in stream_outcomes if outcome != "201"
    ), statuses
    gc = await asyncio.to_thread(run_cli, tenant.env(), tmp_path, "gc")
    assert "fixed nothing" in gc, gc
    figures.add(
        f"MinIO down {down_s:.1f} s: {dict(outcomes)}; "
        f"server answered POSTs {dict(sorted(statuses.items()))}; "
        f"0 responses 500; rows without blob: 0; incomplete multipart uploads left in MinIO: {incomplete}; "
        "jiaoyun gc: fixed nothing"
    )


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False
