"""Rounds (磨课) added at the same moment: each gets its own number, none loses its file."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.context import AppContext
from services.resources import uploads
from services.resources.filetypes import FileCategory
from tests import samples
from tests.factories import upload_form
from tests.services.resources.scenario import District, district

pytestmark = pytest.mark.anyio

PARALLEL = 4


async def test_parallel_rounds_all_land_with_distinct_numbers(
    racing_client: httpx.AsyncClient, racing_context: AppContext
) -> None:
    client, world = racing_client, await district(racing_client, racing_context)
    recording = await world.created(
        "第一次.mp4", samples.mp4_bytes(duration_s=1.0), resource_type="lesson_record"
    )
    videos = [samples.mp4_bytes(duration_s=1.0 + index / 10) for index in range(PARALLEL)]

    async def add_round(index: int) -> httpx.Response:
        return await client.post(
            f"/api/v1/resources/{recording['id']}/versions",
            files=upload_form({"note": f"第{index}组"}, f"round-{index}.mp4", videos[index]),
            headers=world.teacher_auth,
        )

    answers = await asyncio.gather(*(add_round(index) for index in range(PARALLEL)))

    assert [answer.status_code for answer in answers] == [201] * PARALLEL, [a.text for a in answers]
    assert sorted(answer.json()["number"] for answer in answers) == list(range(2, PARALLEL + 2))
    detail = await world.detail(recording["id"])
    assert [version["number"] for version in detail["versions"]] == list(range(PARALLEL + 1, 0, -1))
    # Every round's file is the one its request sent, and is there.
    for answer, video in zip(answers, videos, strict=True):
        file = answer.json()["files"][0]
        served = await client.get(
            f"/api/v1/resources/{recording['id']}/files/{file['id']}/content", headers=world.teacher_auth
        )
        assert served.status_code == 200 and served.content == video


async def start_upload(world: District, content: bytes) -> str:
    client = world.client
    started = await client.post(
        "/api/v1/uploads", json={"filename": "round.mp4", "size": len(content)}, headers=world.teacher_auth
    )
    assert started.status_code == 201, started.text
    upload_id = str(started.json()["id"])
    sent = await client.put(
        f"/api/v1/uploads/{upload_id}/parts/1", content=content, headers=world.teacher_auth
    )
    assert sent.status_code == 200, sent.text
    completed = await client.post(f"/api/v1/uploads/{upload_id}/complete", headers=world.teacher_auth)
    assert completed.status_code == 200, completed.text
    return upload_id


async def test_parallel_rounds_from_resumable_uploads_and_one_upload_attached_once(
    racing_client: httpx.AsyncClient, racing_context: AppContext
) -> None:
    client, world = racing_client, await district(racing_client, racing_context)
    recording = await world.created(
        "第一次.mp4", samples.mp4_bytes(duration_s=1.0), resource_type="lesson_record"
    )
    upload_ids = [
        await start_upload(world, samples.mp4_bytes(duration_s=1.0 + i / 10)) for i in range(PARALLEL)
    ]

    async def add_round(upload_id: str) -> httpx.Response:
        return await client.post(
            f"/api/v1/resources/{recording['id']}/versions",
            json={"upload_id": upload_id},
            headers=world.teacher_auth,
        )

    answers = await asyncio.gather(*(add_round(upload_id) for upload_id in upload_ids))
    assert [answer.status_code for answer in answers] == [201] * PARALLEL, [a.text for a in answers]
    assert sorted(answer.json()["number"] for answer in answers) == list(range(2, PARALLEL + 2))

    # The same completed upload named by two requests at once becomes one file, not two sharing a blob.
    shared = await start_upload(world, samples.mp4_bytes(duration_s=2.0))
    twice = await asyncio.gather(add_round(shared), add_round(shared))
    assert sorted(answer.status_code for answer in twice) == [201, 409], [a.text for a in twice]


async def test_an_upload_read_by_two_requests_is_attached_by_one(
    racing_client: httpx.AsyncClient, racing_context: AppContext
) -> None:
    """The interleaving FOR UPDATE does not prevent on SQLite: the second request reads the upload
    as completed while the first holds it, and changes it once the first has committed."""
    world = await district(racing_client, racing_context)
    upload_id = uuid.UUID(await start_upload(world, samples.mp4_bytes(duration_s=1.0)))
    principal = Principal.of(world.teacher)

    async def attach(session: AsyncSession) -> None:
        await uploads.take_completed(session, principal, upload_id, {FileCategory.video}, "The file")
        await session.flush()

    async with racing_context.sessionmaker() as first, racing_context.sessionmaker() as second:
        await attach(first)
        late = asyncio.create_task(attach(second))
        await asyncio.sleep(0.3)
        await first.commit()
        with pytest.raises(uploads.UploadNotActive):
            await late
