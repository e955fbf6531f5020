"""The students' half's pages without a browser: who sees which page, what they show, escaping."""

from __future__ import annotations

import httpx
import pytest

from services.context import AppContext
from services.indexing.service import enqueue_reindex
from services.jobs.worker import Worker
from services.resources.service import SEARCH_PARENT
from storage.models.resources import ResourceType
from tests.factories import make_resource
from tests.services.assignments.world import classroom, photo_bytes
from tests.services.web.browsers import csrf_headers, signed_in

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


async def test_textbook_and_my_space_pages(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await classroom(client, context)
    async with context.sessionmaker() as session, session.begin():
        resource = await make_resource(
            session, world.users["teacher"], grade=1, subject="语文", edition="人教版", volume="上册",
            unit="第一单元", lesson="天地人", resource_type=ResourceType.micro_lesson,
        )  # fmt: skip
        enqueue_reindex(session, SEARCH_PARENT, resource.id)
        resource_id = resource.id
    await Worker(context).run_until_idle()
    await context.search_index.refresh()
    await world.ok(
        "PUT", f"/api/v1/schools/{world.school.id}/editions", "admin", json={"editions": {"语文": "人教版"}}
    )

    async with signed_in(context, world.users["s1"]) as page:
        # A first-grader's walk opens at 一年级, and a subject at the school's edition.
        opened = await page.get("/textbooks")
        assert opened.status_code == 303 and "grade=1" in opened.headers["location"]
        grade = await page.get(opened.headers["location"])
        assert "语文" in grade.text
        subject = await page.get("/textbooks?stage=小学&grade=1&subject=语文")
        assert subject.status_code == 303 and "edition=" in subject.headers["location"]
        books = await page.get(subject.headers["location"])
        assert "一年级上册" in books.text
        lessons = await page.get("/textbooks?stage=小学&subject=语文&edition=人教版&grade=1&volume=上册")
        assert (
            "第一单元" in lessons.text
            and "天地人" in lessons.text
            and f"/resources/{resource_id}" in lessons.text
        )

        shown = await page.get(f"/resources/{resource_id}")
        assert "☆ 收藏" in shown.text
        assert (
            await page.put(f"/api/v1/me/favorites/{resource_id}", headers=csrf_headers(page))
        ).status_code == 204
        assert "★ 已收藏" in (await page.get(f"/resources/{resource_id}")).text
        space = await page.get("/me")
        assert space.status_code == 200
        assert space.text.count("树和喜鹊") >= 3  # 继续学习, 收藏, 浏览记录
    async with signed_in(context, world.users["teacher"]) as page:
        assert "布置给班级" in (await page.get(f"/resources/{resource_id}")).text
