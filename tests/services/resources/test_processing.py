"""The worker's part on resources, when it goes wrong: a file whose every attempt is lost ends failed."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from services.context import AppContext
from services.jobs.repository import JobRepository
from services.resources.service import PROCESS_FILE_JOB
from storage.database import utcnow
from storage.models.jobs import Job, JobStatus
from tests import samples
from tests.factories import upload_form
from tests.services.resources.scenario import District, district, main_file

pytestmark = pytest.mark.anyio

MAX_ATTEMPTS = 5  # what JobRepository.add gives a job


async def die_under_every_attempt(world: District) -> None:
    """As when the file crashes the worker each time: claimed, and the lease left to run out."""
    for attempt in range(MAX_ATTEMPTS):
        async with world.context.sessionmaker() as session, session.begin():
            claimed = await JobRepository(session).claim(
                f"doomed-{attempt}", limit=10, lease=timedelta(seconds=-1), kinds=[PROCESS_FILE_JOB]
            )
        assert len(claimed) == 1


async def test_a_file_that_kills_every_attempt_ends_failed_not_pending(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    resource = await world.created("教案.pdf", samples.pdf_bytes(["教学目标"]), resource_type="lesson_plan")
    await die_under_every_attempt(world)

    await world.process()

    detail = await world.detail(resource["id"])
    document = main_file(detail)
    assert (detail["processing_status"], document["processing_status"]) == ("failed", "failed")
    assert f"{MAX_ATTEMPTS} attempts" in document["processing_error"]
    content = await client.get(document["content_url"], headers=world.teacher_auth)
    assert content.status_code == 200  # the teacher's file is kept


async def test_giving_up_on_replaced_content_leaves_the_new_content_alone(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    resource = await world.created("教案.pdf", samples.pdf_bytes(["第一稿"]), resource_type="lesson_plan")
    await die_under_every_attempt(world)
    replaced = await client.put(
        main_file(resource)["content_url"],
        files=upload_form(None, "第二稿.pdf", samples.pdf_bytes(["第二稿"])),
        headers=world.teacher_auth,
    )
    assert replaced.status_code == 200, replaced.text
    # The new content's job waits, so only the old content's job is given up on.
    async with context.sessionmaker() as session, session.begin():
        await session.execute(
            update(Job).where(Job.status == JobStatus.queued).values(run_after=utcnow() + timedelta(hours=1))
        )
    await world.process()
    assert main_file(await world.detail(resource["id"]))["processing_status"] == "pending"

    async with context.sessionmaker() as session, session.begin():
        await session.execute(update(Job).where(Job.status == JobStatus.queued).values(run_after=utcnow()))
    await world.process()
    document = main_file(await world.detail(resource["id"]))
    assert (document["processing_status"], document["processing_error"]) == ("ready", None)
    assert document["filename"] == "第二稿.pdf" and document["page_count"] == 1
