"""Browsing by textbook on both stacks: counts per level from the search index, permission-aware, units
and lessons with the catalog's empty lessons, opening at a student's grade and the school's editions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.context import AppContext
from services.indexing.service import enqueue_reindex
from services.jobs.worker import Worker
from services.resources.service import SEARCH_PARENT
from storage.models.identity import PublicationStatus, Visibility
from storage.models.resources import ResourceType
from tests.factories import make_resource
from tests.services.assignments.world import classroom

pytestmark = pytest.mark.anyio

CATALOG = """subject,edition,grade,volume,unit,lesson
语文,人教版,1,上册,第一单元,天地人
语文,人教版,1,上册,第一单元,金木水火土
语文,人教版,1,上册,第二单元,口耳目
""".encode()


def counts(items: list[dict[str, Any]]) -> dict[str, int]:
    return {item["value"]: item["count"] for item in items}


async def test_the_tree_counts_what_the_caller_may_open(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context)
    teacher = world.users["teacher"]
    async with context.sessionmaker() as session, session.begin():
        made = [
            await make_resource(session, teacher, grade=1, subject="语文", edition="人教版", volume="上册",
                                unit="第一单元", lesson="天地人", resource_type=ResourceType.micro_lesson),
            await make_resource(session, teacher, grade=1, subject="语文", edition="人教版", volume="上册",
                                unit="第一单元", lesson="天地人"),
            await make_resource(session, teacher, grade=1, subject="语文", edition="人教版", volume="下册",
                                unit="第一单元", lesson="春夏秋冬"),
            await make_resource(session, teacher, grade=1, subject="语文", edition="部编版", volume="上册"),
            await make_resource(session, teacher, grade=1, subject="数学", edition="人教版", volume="上册"),
            await make_resource(session, teacher, grade=7, stage="初中", subject="数学", edition="人教版",
                                volume="上册"),
            # Not for others' eyes: a private one and a draft.
            await make_resource(session, teacher, grade=1, subject="语文", edition="人教版", volume="上册",
                                unit="第一单元", lesson="天地人", visibility=Visibility.private),
            await make_resource(session, teacher, grade=1, subject="语文", edition="人教版", volume="上册",
                                unit="第二单元", lesson="口耳目", status=PublicationStatus.draft),
        ]  # fmt: skip
        for resource in made:
            enqueue_reindex(session, SEARCH_PARENT, resource.id)
    await Worker(context).run_until_idle()
    await context.search_index.refresh()
    await world.call("POST", "/api/v1/textbooks/catalog", "admin", 403, content=CATALOG)
    imported = await world.ok("POST", "/api/v1/textbooks/catalog", "district_admin", content=CATALOG)
    assert imported == {"books": 1, "lessons": 3}
    await world.ok(
        "PUT", f"/api/v1/schools/{world.school.id}/editions", "admin", json={"editions": {"语文": "人教"}}
    )

    # A student of 一年级五班 opens at their grade and their school's editions.
    top = await world.ok("GET", "/api/v1/textbooks", "s1")
    assert top["home"]["grade"] == 1 and top["home"]["stage"] == "小学"
    assert top["school_editions"] == {"语文": "人教版"}
    assert counts(top["stages"]) == {"小学": 5, "初中": 1}
    stage = await world.ok("GET", "/api/v1/textbooks?stage=小学&grade=1", "s1")
    assert counts(stage["subjects"]) == {"语文": 4, "数学": 1}
    subject = await world.ok("GET", "/api/v1/textbooks?stage=小学&grade=1&subject=语文", "s1")
    assert counts(subject["editions"]) == {"人教版": 3, "部编版": 1}
    edition = await world.ok("GET", "/api/v1/textbooks?stage=小学&subject=语文&edition=人民教育出版社", "s1")
    assert [(book["label"], book["count"]) for book in edition["books"]] == [
        ("一年级上册", 2),
        ("一年级下册", 1),
    ]

    book = await world.ok("GET", "/api/v1/textbooks?subject=语文&edition=人教版&grade=1&volume=上册", "s1")
    units = {unit["name"]: unit for unit in book["units"]}
    assert list(units) == ["第一单元", "第二单元"]
    lessons = {lesson["name"]: lesson["count"] for lesson in units["第一单元"]["lessons"]}
    assert lessons == {"天地人": 2, "金木水火土": 0}
    assert units["第二单元"]["count"] == 0  # the draft is not the student's to see

    # Its teacher sees their own private resource and draft counted too.
    mine = await world.ok(
        "GET", "/api/v1/textbooks?subject=语文&edition=人教版&grade=1&volume=上册", "teacher"
    )
    assert [unit["count"] for unit in mine["units"]] == [3, 1]
    # Guests see nothing of a school's resources.
    guest = await world.call("GET", "/api/v1/textbooks", None, 200)
    assert guest.json()["stages"] == []
    await world.call("GET", "/api/v1/textbooks?grade=13", "s1", 422)
    bad = "subject,edition,grade,volume,unit,lesson\n魔法,人教版,1,上册,一,二\n".encode()
    await world.call("POST", "/api/v1/textbooks/catalog", "district_admin", 422, content=bad)
    await world.call(
        "PUT", f"/api/v1/schools/{world.school.id}/editions", "teacher", 403, json={"editions": {}}
    )
