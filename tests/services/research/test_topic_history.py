"""A topic's history keeps every edit of what readers see: its body, title, grades, subjects, visibility."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.context import AppContext
from tests import samples
from tests.services.research.test_topics import staff

pytestmark = pytest.mark.anyio


async def test_edits_of_title_grades_and_subjects_leave_revisions_too(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    s = await staff(client, context)
    topic = await s.topic(
        title="整本书阅读怎么推进", body="先说说做法", grades=[3], subjects=["语文"], visibility="district"
    )
    url = f"/api/v1/topics/{topic['id']}"

    async def edit(**changes: Any) -> None:
        await s.ok("PATCH", url, "teacher", changes)

    async def history() -> list[tuple[str, dict[str, Any]]]:
        revisions = await s.ok("GET", f"{url}/history", "student")
        return [(item["body"], item["previous_fields"]) for item in revisions]

    await edit(title="整本书阅读的推进课")
    assert await history() == [("先说说做法", {"title": "整本书阅读怎么推进"})]

    await edit(grades=[3, 4], subjects=["语文", "道法"], visibility="school")
    await edit(title="整本书阅读的推进课", grades=[3, 4])  # nothing changes: no revision
    plan = await s.world.created("教案.pdf", samples.pdf_bytes(["教案"]), resource_type="lesson_plan")
    await edit(resource_ids=[plan["id"]])  # links are not kept (old ones may be unreadable to readers)
    await edit(body="先说说做法，再看课例", title="整本书阅读推进课研讨")
    assert await history() == [
        ("先说说做法", {"title": "整本书阅读的推进课"}),
        ("先说说做法", {"grades": [3], "subjects": ["语文"], "visibility": "district"}),
        ("先说说做法", {"title": "整本书阅读怎么推进"}),
    ]
    current = await s.detail(topic["id"])
    assert (current["title"], current["body"], current["grades"], current["subjects"]) == (
        "整本书阅读推进课研讨",
        "先说说做法，再看课例",
        [3, 4],
        ["语文", "道德与法治"],
    )
