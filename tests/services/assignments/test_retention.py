"""Minors' work is not kept for ever: `jiaoyun gc` removes submissions a set time after their school year."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from services.assignments.retention import last_expired_school_year
from services.classes.service import chinese_number, class_name, current_school_year
from services.context import AppContext
from services.jobs.worker import Worker
from services.maintenance.service import collect_garbage
from storage.models.assignments import SubmissionFileText
from tests import samples
from tests.services.assignments.world import classroom

pytestmark = pytest.mark.anyio


def test_school_years_and_class_names() -> None:
    assert current_school_year(datetime(2026, 9, 1, tzinfo=UTC)) == 2026
    assert current_school_year(datetime(2027, 3, 1, tzinfo=UTC)) == 2026
    # The 2025 school year ends on 31 August 2026; kept 30 days, it expires from 30 September 2026.
    assert last_expired_school_year(datetime(2026, 9, 29, tzinfo=UTC), 30) == 2024
    assert last_expired_school_year(datetime(2026, 10, 1, tzinfo=UTC), 30) == 2025
    assert [chinese_number(n) for n in (1, 10, 12, 20, 35)] == ["一", "十", "十二", "二十", "三十五"]
    assert (class_name(1, 5), class_name(7, 2), class_name(10, 12)) == (
        "一年级五班",
        "七年级二班",
        "高一十二班",
    )


async def test_gc_removes_work_of_expired_school_years(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context, class_size=1)
    old = await world.ok(
        "POST", "/api/v1/classes", "admin", 201, json={"grade": 3, "number": 1, "school_year": 2019}
    )
    await world.ok(
        "POST",
        f"/api/v1/classes/{old['id']}/students",
        "admin",
        json={"student_ids": [str(world.users["s1"].id)]},
    )
    await world.ok(
        "POST",
        f"/api/v1/classes/{old['id']}/teachers",
        "admin",
        json={"teacher_id": str(world.users["teacher"].id), "subject": "语文"},
    )
    old_task = (await world.assign(class_ids=[old["id"]]))["id"]
    current_task = (await world.assign())["id"]
    old_work = (
        await world.submit(old_task, "s1", "旧作业", [("a.pdf", samples.pdf_bytes(["旧的字"]))])
    ).json()
    current_work = (
        await world.submit(current_task, "s1", "新作业", [("b.pdf", samples.pdf_bytes(["新的字"]))])
    ).json()
    # The worker reads the words of both for the teachers' search (its own gc duty held back).
    kept_days, context.settings.submission_retention_days = context.settings.submission_retention_days, 0
    await Worker(context).run_until_idle()
    context.settings.submission_retention_days = kept_days

    report = await collect_garbage(context)

    assert report.expired_submissions_removed == 1
    await world.call("GET", f"/api/v1/submissions/{old_work['id']}", "s1", 404)
    await world.call("GET", f"/api/v1/submissions/{current_work['id']}", "s1", 200)
    # The expired photo's bytes went too; the current one's stay (gc never takes referenced blobs).
    keys = [key async for key in context.blob_store.list_keys("sub/")]
    assert len(keys) == 1
    await world.call("GET", current_work["files"][0]["content_url"], "s1", 200)
    # The words read from the expired work went with it.
    async with context.sessionmaker() as session:
        texts = (await session.scalars(select(SubmissionFileText.text))).all()
    assert texts == ["新的字"]
