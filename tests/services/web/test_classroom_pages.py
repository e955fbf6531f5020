"""The students' half's pages without a browser: who sees which page, what they show, escaping."""

from __future__ import annotations

import httpx
import pytest

from services.context import AppContext
from tests.services.assignments.world import classroom, photo_bytes
from tests.services.web.browsers import signed_in

pytestmark = pytest.mark.anyio

XSS = '<script>alert("work")</script>我的作业'


async def test_pages_of_tasks_review_and_classes(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await classroom(client, context)
    task = (await world.assign())["id"]
    work = (await world.submit(task, "s1", XSS, [("photo.jpg", photo_bytes())])).json()

    async with signed_in(context, world.users["s1"]) as page:
        tasks = await page.get("/tasks")
        assert (
            tasks.status_code == 200 and "《树和喜鹊》朗读与生字练习" in tasks.text and "已完成" in tasks.text
        )
        detail = await page.get(f"/tasks/{task}")
        assert detail.status_code == 200
        assert "&lt;script&gt;" in detail.text and "<script>alert" not in detail.text
        assert "重新提交" in detail.text and "data-hand-in" in detail.text
        assert (await page.get("/assignments")).headers["location"] == "/tasks"
        assert (await page.get("/admin/classes")).status_code == 403
        assert "一年级五班" in (await page.get("/classes")).text

    async with signed_in(context, world.users["student6"]) as page:
        missing = await page.get(f"/tasks/{task}")
        assert missing.status_code == 404 and "页面不存在" in missing.text
        assert (await page.get(f"/submissions/{work['id']}")).status_code == 404

    async with signed_in(context, world.users["teacher"]) as page:
        overview = await page.get(f"/assignments/{task}")
        assert overview.status_code == 200
        assert "一年级五班" in overview.text and "未交" in overview.text and "已提交" in overview.text
        review = await page.get(f"/submissions/{work['id']}")
        assert review.status_code == 200 and "保存批改" in review.text and "&lt;script&gt;" in review.text
        new = await page.get(f"/assignments/new?resource={world.resource_id}")
        assert new.status_code == 200 and "一年级五班（3 人）" in new.text
        assert "班级作业" in (await page.get("/assignments")).text

    async with signed_in(context, world.users["colleague"]) as page:
        assert (await page.get(f"/assignments/{task}")).status_code == 404
        assert (await page.get(f"/submissions/{work['id']}")).status_code == 404

    async with signed_in(context, world.users["admin"]) as page:
        listing = await page.get("/admin/classes")
        assert listing.status_code == 200 and "一年级五班" in listing.text and "升入" in listing.text
        one = await page.get(f"/admin/classes/{world.class5['id']}")
        assert one.status_code == 200 and "学生01" in one.text and "语文" in one.text
        # The admin reads the work but does not grade it.
        assert "保存批改" not in (await page.get(f"/submissions/{work['id']}")).text

    async with signed_in(context, world.users["other_admin"]) as page:
        assert (await page.get(f"/admin/classes/{world.class5['id']}")).status_code == 404
