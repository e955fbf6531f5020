"""An assignment end to end on both stacks: a teacher gives work to a class of 40, some hand in photos
and audio, one resubmits, one is late, the teacher grades and returns one, the student sees feedback."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image

from services.context import AppContext
from services.jobs.worker import Worker
from tests import samples
from tests.services.assignments.world import classroom, photo_bytes

pytestmark = pytest.mark.anyio

PDF = samples.pdf_bytes(["第一课 生字练习"])


async def test_a_class_of_forty_hands_in_and_is_reviewed(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context, class_size=40)
    assignment = await world.assign(accept_late=True)
    task = assignment["id"]
    assert assignment["classes"] == [{"id": world.class5["id"], "name": "一年级五班"}]
    assert [resource["id"] for resource in assignment["resources"]] == [world.resource_id]

    # Every student of the class hears of it and finds it among their tasks, due.
    inbox = await world.ok("GET", "/api/v1/notifications", "s40")
    assert inbox["items"][0]["kind"] == "assignment_given"
    assert inbox["items"][0]["subject"]["assignment_id"] == task
    tasks = await world.ok("GET", "/api/v1/assignments?state=due", "s1")
    assert [item["id"] for item in tasks] == [task]
    assert tasks[0]["mine"]["state"] == "due"

    # A photo of written work (stored sideways, EXIF says so) with a line of text; a reading aloud; a PDF.
    first = (await world.submit(task, "s1", "我写了生字。", [("IMG_0001.JPG", photo_bytes())])).json()
    assert first["status"] == "submitted" and not first["is_late"]
    assert [file["category"] for file in first["files"]] == ["image"]
    audio = (await world.submit(task, "s2", "", [("朗读.m4a", samples.m4a_bytes())])).json()
    assert audio["files"][0]["format"] == "m4a"
    await world.submit(task, "s3", "作业见附件", [("作业.pdf", PDF)])

    # s1 hands in again before the due time: the new work replaces the old.
    again = (
        await world.submit(
            task, "s1", "重新拍了一张。", [("IMG_0002.JPG", photo_bytes(60, 30)), ("p.pdf", PDF)]
        )
    ).json()
    assert again["id"] == first["id"] and again["attempts"] == 2
    assert {file["filename"] for file in again["files"]} == {"IMG_0002.JPG", "p.pdf"}
    assert (await world.call("GET", first["files"][0]["content_url"], "s1")).status_code == 404

    # The worker makes an upright, compressed preview of the photo.
    await Worker(context).run_until_idle()
    mine = await world.ok("GET", f"/api/v1/assignments/{task}/submission", "s1")
    photo = next(file for file in mine["files"] if file["category"] == "image")
    preview = await world.call("GET", photo["preview_url"], "s1", 200)
    assert preview.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(preview.content)).size == (30, 60)
    original = await world.call("GET", photo["content_url"], "teacher", 200)
    assert original.content == photo_bytes(60, 30)

    # The due time passes; late work is accepted and marked late.
    await world.ok(
        "PATCH",
        f"/api/v1/assignments/{task}",
        "teacher",
        json={"due_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
    )
    late = (await world.submit(task, "s4", "对不起，交晚了。")).json()
    assert late["is_late"]
    assert (await world.ok("GET", "/api/v1/assignments", "s5"))[0]["mine"]["state"] == "overdue"

    roster = await world.ok("GET", f"/api/v1/assignments/{task}/submissions", "teacher")
    (summary,) = roster["classes"]
    assert (summary["students"], summary["submitted"], summary["late"], summary["missing"]) == (40, 3, 1, 36)
    assert summary["completion"] == 0.1
    assert len(roster["entries"]) == 40
    found = await world.ok("GET", f"/api/v1/assignments/{task}/submissions?q=学生02", "teacher")
    assert [entry["state"] for entry in found["entries"]] == ["submitted"]

    # The teacher grades one and returns another for redo; both students are told.
    graded = await world.ok(
        "POST",
        f"/api/v1/submissions/{first['id']}/review",
        "teacher",
        json={"grade_level": "A", "feedback": "字很工整！"},
    )
    assert graded["status"] == "graded"
    s3_work = next(entry for entry in roster["entries"] if entry["student"]["name"] == "学生03")
    returned = await world.ok(
        "POST",
        f"/api/v1/submissions/{s3_work['submission_id']}/review",
        "teacher",
        json={"feedback": "第二题再想想。", "return_for_redo": True},
    )
    assert returned["status"] == "returned"
    kinds = [item["kind"] for item in (await world.ok("GET", "/api/v1/notifications", "s3"))["items"]]
    assert kinds[0] == "submission_returned"
    seen = await world.ok("GET", f"/api/v1/assignments/{task}/submission", "s1")
    assert (seen["grade_level"], seen["feedback"]) == ("A", "字很工整！")
    assert (await world.ok("GET", "/api/v1/assignments?state=returned", "s3"))[0]["id"] == task

    # Work given back may be handed in again after the due time, and is not late for it.
    redo = (await world.submit(task, "s3", "改好了。", [("作业.pdf", PDF)])).json()
    assert (redo["status"], redo["is_late"], redo["attempts"]) == ("submitted", False, 2)

    summary = (await world.ok("GET", f"/api/v1/assignments/{task}/submissions", "teacher"))["classes"][0]
    assert summary["grade_distribution"] == {"A": 1, "B": 0, "C": 0, "D": 0}
    assert (summary["graded"], summary["submitted"], summary["late"]) == (1, 2, 1)

    # Students' work never reaches the search index.
    await Worker(context).run_until_idle()
    await context.search_index.refresh()
    hits = await world.ok("GET", "/api/v1/search?q=重新拍了一张", "teacher")
    assert hits["total"] == 0
    # The teacher finds the work by the words of its PDFs (read by the worker), with where they stand.
    found = await world.ok("GET", "/api/v1/submissions", "teacher", params={"q": "生字练习"})
    assert sorted((hit["student"]["name"], hit["snippet_file"]) for hit in found) == [
        ("学生01", "p.pdf"),
        ("学生03", "作业.pdf"),
    ]
