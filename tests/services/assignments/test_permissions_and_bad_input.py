"""Who sees and does what with assignments and submissions, and what bad input gets (both stacks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.context import AppContext
from tests import samples
from tests.factories import resource_metadata
from tests.services.assignments.world import Classroom, classroom, photo_bytes

pytestmark = pytest.mark.anyio

# Everyone who might ask, and whether they may read s1's work: the student, the class's teacher and
# the school's admin; nobody else (404), classmates, colleagues and the district admin included.
READERS = {
    "s1": 200,
    "s2": 404,
    "student6": 404,
    "teacher": 200,
    "colleague": 404,
    "teacher6": 404,
    "admin": 200,
    "other_admin": 404,
    "outsider": 404,
    "district_admin": 404,
}
# And whether they may review it: readers who do not teach the class get 403.
REVIEWERS = {"s1": 403, "s2": 404, "teacher": 200, "colleague": 404, "admin": 403, "district_admin": 404}
# Who sees the assignment itself.
ASSIGNMENT_READERS = {
    "s1": 200,
    "student6": 404,
    "teacher": 200,
    "colleague": 404,
    "teacher6": 404,
    "admin": 200,
    "other_admin": 404,
    "district_admin": 404,
}


async def _handed_in(world: Classroom) -> tuple[str, str]:
    task = (await world.assign())["id"]
    work = (await world.submit(task, "s1", "我的作业", [("photo.jpg", photo_bytes())])).json()
    return task, work["id"]


async def test_permission_matrix(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await classroom(client, context)
    task, work = await _handed_in(world)
    file_url = (await world.ok("GET", f"/api/v1/submissions/{work}", "s1"))["files"][0]["content_url"]
    for who, status in READERS.items():
        await world.call("GET", f"/api/v1/submissions/{work}", who, status)
        await world.call("GET", file_url, who, status)
    for who, status in REVIEWERS.items():
        await world.call("POST", f"/api/v1/submissions/{work}/review", who, status, json={"grade_level": "B"})
    for who, status in ASSIGNMENT_READERS.items():
        await world.call("GET", f"/api/v1/assignments/{task}", who, status)
    # The roster is for teachers: the class's teacher and the school admin; a student of it gets 403.
    await world.call("GET", f"/api/v1/assignments/{task}/submissions", "teacher", 200)
    await world.call("GET", f"/api/v1/assignments/{task}/submissions", "admin", 200)
    await world.call("GET", f"/api/v1/assignments/{task}/submissions", "s1", 403)
    await world.call("GET", f"/api/v1/assignments/{task}/submissions", "colleague", 404)
    # Changing the assignment is its teacher's alone.
    await world.call("PATCH", f"/api/v1/assignments/{task}", "admin", 403, json={"title": "改"})
    await world.call("DELETE", f"/api/v1/assignments/{task}", "s1", 403)
    # Lists: each sees their own.
    assert [item["id"] for item in await world.ok("GET", "/api/v1/assignments", "s2")] == [task]
    assert await world.ok("GET", "/api/v1/assignments", "student6") == []
    assert await world.ok("GET", "/api/v1/assignments", "colleague") == []
    await world.call("GET", "/api/v1/assignments", None, 401)


async def test_bad_input(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await classroom(client, context)
    task = (await world.assign())["id"]
    # A class one is not in: the assignment is not theirs to know about.
    await world.submit(task, "student6", "我也交", expect=404)
    # A spoofed type: an executable named like a photo, a web page named like a PDF.
    refused = await world.submit(task, "s1", "", [("photo.jpg", b"MZ\x90\x00" + bytes(2000))], expect=415)
    assert refused.json()["error"]["code"] == "unsupported_media_type"
    await world.submit(task, "s1", "", [("作业.pdf", b"<html><script>alert(1)</script></html>")], expect=415)
    # Oversized: the submission limit applies, whatever the kind's own limit.
    context.settings.max_submission_file_mb = 1
    big = photo_bytes() + bytes(1024 * 1024 + 10)
    tooBig = await world.submit(task, "s1", "", [("big.jpg", big)], expect=413)
    assert tooBig.json()["error"]["code"] == "payload_too_large"
    # Nothing handed in at all.
    await world.submit(task, "s1", "   ", expect=422)
    # Teachers do not hand in.
    await world.submit(task, "teacher", "老师交作业", expect=403)
    # None of the refused bytes stayed in the store.
    assert [key async for key in context.blob_store.list_keys("sub/")] == []

    # After the due time (late work not accepted): 409, and nothing is stored.
    past = await world.assign(
        due_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat(), accept_late=False
    )
    response = await world.submit(past["id"], "s1", "晚了", [("p.jpg", photo_bytes())], expect=409)
    assert response.json()["error"]["code"] == "past_due"
    assert [key async for key in context.blob_store.list_keys("sub/")] == []

    # Giving work: to a class one does not teach 404 (it is not theirs to see), as a student 403, a
    # private resource 409.
    await world.assign(who="colleague", expect=404)
    await world.assign(who="outsider", expect=404)
    await world.assign(who="s1", expect=403)
    await world.assign(resource_ids=[world.private_resource_id], expect=409)
    await world.assign(class_ids=[], expect=422)
    await world.assign(due_at="tomorrow", expect=422)
    await world.assign(due_at="2026-12-01T08:00:00", expect=422)  # no time zone
    # Grades must fit the assignment.
    work = (await world.submit(task, "s1", "好了")).json()
    await world.call("POST", f"/api/v1/submissions/{work['id']}/review", "teacher", 422, json={"score": 90})
    await world.call(
        "POST", f"/api/v1/submissions/{work['id']}/review", "teacher", 422, json={"grade_level": "E"}
    )


async def test_big_work_goes_through_a_resumable_upload(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context)
    task = (await world.assign())["id"]
    video = samples.mp4_bytes()
    upload = await world.ok(
        "POST", "/api/v1/uploads", "s1", 201, json={"filename": "朗读.mp4", "size": len(video)}
    )
    await world.call("PUT", f"/api/v1/uploads/{upload['id']}/parts/1", "s1", 200, content=video)
    await world.ok("POST", f"/api/v1/uploads/{upload['id']}/complete", "s1")
    # Not someone else's to hand in, and not a way for a student to publish a resource.
    await world.call(
        "POST", f"/api/v1/assignments/{task}/submission", "s2", 404, json={"upload_ids": [upload["id"]]}
    )
    await world.call(
        "POST", "/api/v1/resources", "s1", 403, json={**resource_metadata(), "upload_id": upload["id"]}
    )
    work = await world.ok(
        "POST",
        f"/api/v1/assignments/{task}/submission",
        "s1",
        json={"text": "视频", "upload_ids": [upload["id"]]},
    )
    assert [(file["category"], file["size"]) for file in work["files"]] == [("video", len(video))]
    content = await world.call("GET", work["files"][0]["content_url"], "teacher", 200)
    assert content.content == video
    # Beyond the submission limit, a student's upload does not even start.
    await world.call("POST", "/api/v1/uploads", "s1", 413, json={"filename": "big.mp4", "size": 10**9})


async def test_more_bad_input_gets_a_clear_4xx_and_stores_nothing(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context)
    task = (await world.assign())["id"]
    # No such assignment, or one of another school: 404 alike.
    await world.submit("00000000-0000-0000-0000-000000000000", "s1", "作业", expect=404)
    elsewhere = await world.assign(who="teacher6", class_ids=[world.class6["id"]])
    await world.submit(elsewhere["id"], "s1", "作业", expect=404)
    # Too many files, too much text, a body that is not a submission: 422 in the one error shape.
    context.settings.max_submission_files = 2
    many = [(f"p{number}.jpg", photo_bytes()) for number in range(3)]
    refused = await world.submit(task, "s1", "", many, expect=422)
    assert refused.json()["error"]["code"] == "invalid_payload"
    await world.submit(task, "s1", "字" * 20_001, expect=422)
    url = f"/api/v1/assignments/{task}/submission"
    broken = await client.post(
        url, content=b"{not json", headers={**await world.headers("s1"), "Content-Type": "application/json"}
    )
    assert broken.status_code == 422, broken.text
    await world.call("POST", url, "s1", 422, json={"text": "x", "upload_ids": ["not-a-uuid"]})
    # An upload id that does not exist (or is not the student's) hands nothing in.
    await world.call("POST", url, "s1", 404, json={"upload_ids": ["00000000-0000-0000-0000-000000000001"]})
    assert [key async for key in context.blob_store.list_keys("sub/")] == []
    # Searching work: a query too long is 422, not a 500.
    await world.call("GET", "/api/v1/submissions", "teacher", 422, params={"q": "字" * 101})
    await world.call(
        "GET", f"/api/v1/assignments/{task}/submissions", "teacher", 422, params={"q": "字" * 101}
    )
    assert await world.ok("GET", "/api/v1/submissions", "teacher", params={"q": "%' OR 1=1 --"}) == []
