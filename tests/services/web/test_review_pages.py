"""The review pages without a browser: the queue with its badge, the owner's review panel, the
settings page and the review counts in 研修统计."""

from __future__ import annotations

import httpx
import pytest

from services.context import AppContext
from tests.services.review.world import review_world
from tests.services.web.browsers import signed_in

pytestmark = pytest.mark.anyio


async def test_queue_panel_settings_and_statistics_pages(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    waiting = await world.created(title="坐井观天 待审", visibility="district", subject="语文")
    other = await world.created(title="分数的意义 待审", visibility="district", subject="数学", grade=5)

    async with signed_in(context, world.people["chinese_lead"]) as lead:
        page = await lead.get("/review")
        assert page.status_code == 200, page.text
        assert "坐井观天 待审" in page.text and "分数的意义" not in page.text
        assert "data-review-count>1<" in page.text  # the header badge
        assert 'data-review-selected="' in page.text and "通过（a）" in page.text
        assert "第一页 喜鹊识字" in page.text or "文档文字尚未提取" in page.text
        filtered = await lead.get("/review", params={"q": "没有这个"})
        assert "没有待审核的内容" in filtered.text
        # The lead opens what waits for them even where it is shown to one school only.
        assert (await lead.get(f"/resources/{waiting['id']}")).status_code == 200

    async with signed_in(context, world.people["teacher"]) as teacher:
        assert (await teacher.get("/review")).status_code == 403
        home = await teacher.get("/")
        assert "data-review-nav" not in home.text
        before = await teacher.get(f"/resources/{waiting['id']}")
        assert 'data-review-state="pending"' in before.text

    request = await world.review_of(waiting["id"])
    assert request is not None
    await world.decide(request["id"], "reject", "chinese_lead", "请补充板书设计")
    async with signed_in(context, world.people["teacher"]) as teacher:
        after = await teacher.get(f"/resources/{waiting['id']}")
        assert 'data-review-state="rejected"' in after.text
        assert "请补充板书设计" in after.text and "修改后重新提交审核" in after.text
    async with signed_in(context, world.people["colleague"]) as colleague:
        seen = await colleague.get(f"/resources/{waiting['id']}")
        assert seen.status_code == 200 and "data-review-state" not in seen.text

    async with signed_in(context, world.people["admin"]) as admin:
        settings = await admin.get("/admin/review")
        assert settings.status_code == 200, settings.text
        assert settings.text.count("data-review-lead") == 2
        assert "data-review-count>1<" in settings.text  # the 数学 request still waits
        stats = await admin.get("/admin/stats")
        assert stats.status_code == 200, stats.text
        assert "data-review-stats" in stats.text and "请补充" not in stats.text
    async with signed_in(context, world.people["school_admin"]) as school_admin:
        own = await school_admin.get("/admin/review")
        assert own.status_code == 200 and world.school.name in own.text
        assert world.other_school.name not in own.text
    assert other["visibility"] == "school"
