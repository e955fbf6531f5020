"""Teachers search their classes' work by the words in it, on both stacks: the text handed in and
the text the worker reads from PDF/DOCX files and photos (OCR); only over the classes they teach;
LIKE wildcards taken literally; the text goes with its file; never the public search index."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.assignments.search import snippet
from services.assignments.texts import bounded
from services.context import AppContext
from services.jobs.worker import Worker
from storage.database import contains_pattern
from storage.models.assignments import SubmissionFileText
from tests import samples
from tests.services.assignments.world import Classroom, classroom
from tests.services.documents import generated

pytestmark = pytest.mark.anyio

PHOTO_LINES = ("期中考试试卷", "第三单元练习题")


def test_patterns_snippets_and_bounds() -> None:
    assert contains_pattern("100%_a\\b") == "%100\\%\\_a\\\\b%"
    assert snippet("第一段。" + "字" * 50 + "植物的光合作用需要阳光", "光合作用") == (
        "…" + "字" * 27 + "植物的光合作用需要阳光"
    )
    assert snippet("abc", "x") is None
    assert bounded([{"text": " 第一页 "}, {"text": "第二页"}], 6) == ("第一页\n第二", True)
    assert bounded([{"text": "短"}], 6) == ("短", False)


async def search(world: Classroom, who: str, q: str) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = await world.ok("GET", "/api/v1/submissions", who, params={"q": q})
    return hits


async def test_teachers_find_work_by_the_words_in_its_documents_and_photos(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context, class_size=3)
    task = (await world.assign())["id"]
    report = samples.pdf_bytes(["植物的光合作用需要阳光"])
    await world.submit(task, "s1", "", [("实验报告.pdf", report)])
    await world.submit(task, "s2", "", [("试卷.jpg", generated.phone_photo(PHOTO_LINES))])
    notes = samples.docx_bytes(["读后感：小蝌蚪真勇敢"])
    await world.submit(task, "s3", "完成率100%_全对", [("读书笔记.docx", notes)])
    other_class = await world.assign(who="teacher6", class_ids=[world.class6["id"]])
    await world.submit(other_class["id"], "student6", "", [("光合作用.pdf", samples.pdf_bytes(["光合作用"]))])
    await Worker(context).run_until_idle()

    found = await search(world, "teacher", "光合作用")
    assert [(hit["student"], hit["matched"], hit["snippet_file"]) for hit in found] == [
        ({"id": str(world.users["s1"].id), "name": "学生01"}, "words", "实验报告.pdf")
    ]
    assert found[0]["snippet"] == "植物的光合作用需要阳光"
    assert found[0]["in_class"] == {"id": world.class5["id"], "name": "一年级五班"}
    (photo,) = await search(world, "teacher", "练习题")
    assert (photo["student"]["name"], photo["snippet_file"]) == ("学生02", "试卷.jpg")
    assert [hit["student"]["name"] for hit in await search(world, "teacher", "小蝌蚪")] == ["学生03"]
    # Words typed in count too; LIKE's wildcards are taken as they are.
    (typed,) = await search(world, "teacher", "100%_")
    assert (typed["snippet"], typed["snippet_file"]) == ("完成率100%_全对", None)
    assert await search(world, "teacher", "%") == [typed]
    assert await search(world, "teacher", "_全") == [typed]
    # By name, as before.
    assert [hit["matched"] for hit in await search(world, "teacher", "学生02")] == ["name"]

    # Only the classes one teaches: the other class's teacher finds their own work, not this.
    assert [hit["student"]["name"] for hit in await search(world, "teacher6", "光合作用")] == [
        world.users["student6"].display_name
    ]
    assert await search(world, "teacher6", "练习题") == []
    assert await search(world, "outsider", "光合作用") == []
    assert await search(world, "other_admin", "光合作用") == []
    assert len(await search(world, "admin", "光合作用")) == 2
    await world.call("GET", "/api/v1/submissions", "s1", 403, params={"q": "光合作用"})
    await world.call("GET", "/api/v1/submissions", "teacher", 422, params={"q": ""})

    # The roster's search finds work by its words, with where they were found.
    roster = await world.ok(
        "GET", f"/api/v1/assignments/{task}/submissions", "teacher", params={"q": "练习题"}
    )
    (entry,) = roster["entries"]
    assert (entry["student"]["name"], entry["snippet_file"]) == ("学生02", "试卷.jpg")
    await world.call(
        "GET", f"/api/v1/assignments/{task}/submissions", "teacher6", 404, params={"q": "练习题"}
    )

    # Handed in again, the old file's text goes with it; with OCR off, photos are not read.
    await world.submit(task, "s1", "重交了")
    context.settings.ocr_enabled = False
    await world.submit(task, "s2", "", [("试卷.jpg", generated.phone_photo(PHOTO_LINES))])
    await Worker(context).run_until_idle()
    assert await search(world, "teacher", "光合作用") == []
    assert await search(world, "teacher", "练习题") == []
    async with context.sessionmaker() as session:
        statuses = (await session.scalars(select(SubmissionFileText.status))).all()
        assert sorted(statuses) == ["ready", "ready", "skipped"]

    # Never the public search index.
    await context.search_index.refresh()
    assert (await world.ok("GET", "/api/v1/search?q=小蝌蚪", "teacher"))["total"] == 0
    async with context.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(SubmissionFileText)) == 3
