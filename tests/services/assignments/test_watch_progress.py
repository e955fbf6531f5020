"""A 微课 task's watch progress on both stacks: the teacher's roster shows how far each student
watched (the union of the ranges their player reported, over the newest round's video), who finished
(90 %) and the class's completion; a student's 我的任务 shows their own, and a task asking for no
submission is done once watched."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.context import AppContext
from storage.models.resources import Resource, ResourceType, ResourceVersion
from tests.factories import make_resource, make_video_file
from tests.services.assignments.world import Classroom, classroom

pytestmark = pytest.mark.anyio


async def micro_lesson(world: Classroom) -> tuple[str, str]:
    async with world.context.sessionmaker() as session, session.begin():
        resource: Resource = await make_resource(
            session, world.users["teacher"], resource_type=ResourceType.micro_lesson, title="认识钟表 微课"
        )
        video = await make_video_file(session, resource, duration_s=20.0)
        return str(resource.id), str(video.id)


async def watch(
    world: Classroom, who: str, resource_id: str, file_id: str, ranges: list[list[float]]
) -> None:
    await world.ok(
        "POST",
        f"/api/v1/resources/{resource_id}/files/{file_id}/watch",
        who,
        json={"ranges": ranges, "position_s": ranges[-1][1]},
    )


def by_name(roster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["student"]["name"]: entry for entry in roster["entries"]}


async def test_the_roster_and_my_tasks_show_how_far_each_student_watched(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context, class_size=4)
    lesson, video = await micro_lesson(world)
    watch_only = await world.assign(
        title="观看微课《认识钟表》", resource_ids=[lesson, world.resource_id], submission_required=False
    )
    with_work = await world.assign(title="看微课并完成练习", resource_ids=[lesson])
    assert watch_only["videos"] == [{"resource_id": lesson, "file_id": video, "duration_s": 20.0}]

    # s1 watches it all, in two sittings, replaying a part; s2 a quarter; s3 skips to the end; s4 none.
    await watch(world, "s1", lesson, video, [[0, 12], [5, 10]])
    await watch(world, "s1", lesson, video, [[11, 19.5]])
    await watch(world, "s2", lesson, video, [[0, 5]])
    await watch(world, "s3", lesson, video, [[15, 20]])

    roster = await world.ok("GET", f"/api/v1/assignments/{watch_only['id']}/submissions", "teacher")
    assert [item["file_id"] for item in roster["videos"]] == [video]
    rows = by_name(roster)
    assert [rows[name]["watch"][0]["completion"] for name in ("学生01", "学生02", "学生03", "学生04")] == [
        0.975,
        0.25,
        0.25,
        0.0,
    ]
    assert rows["学生01"]["watch"][0]["finished"] and rows["学生01"]["state"] == "watched"
    assert rows["学生02"]["state"] == "missing" and not rows["学生02"]["watch"][0]["finished"]
    (summary,) = roster["classes"]
    assert (summary["watched"], summary["finished_watching"], summary["missing"]) == (1, 1, 3)
    assert summary["completion"] == 0.25
    assert summary["average_watched"] == pytest.approx((0.975 + 0.25 + 0.25) / 4, abs=1e-3)

    # Where work is asked for too, watching it all is not handing it in.
    other = await world.ok("GET", f"/api/v1/assignments/{with_work['id']}/submissions", "teacher")
    assert by_name(other)["学生01"]["state"] == "missing"
    assert other["classes"][0]["finished_watching"] == 1 and other["classes"][0]["completion"] == 0.0

    # Each student sees their own progress; the watch-only task is done once watched.
    tasks = {item["id"]: item["mine"] for item in await world.ok("GET", "/api/v1/assignments", "s1")}
    assert tasks[watch_only["id"]]["state"] == "done"
    assert tasks[watch_only["id"]]["watch"][0]["finished"] is True
    assert tasks[with_work["id"]]["state"] == "due"
    mine = await world.ok("GET", f"/api/v1/assignments/{watch_only['id']}", "s2")
    assert mine["mine"]["state"] == "due" and mine["mine"]["watch"][0]["completion"] == 0.25
    assert (await world.ok("GET", "/api/v1/assignments?state=done", "s1"))[0]["id"] == watch_only["id"]

    # A new round of the lesson with its own video starts everyone over.
    async with context.sessionmaker() as session, session.begin():
        resource = await session.get(Resource, uuid.UUID(lesson))
        assert resource is not None
        session.add(
            ResourceVersion(resource_id=resource.id, number=2, label="第2次", created_by_id=resource.owner_id)
        )
        await session.flush()
        await make_video_file(session, resource, duration_s=30.0)
    again = await world.ok("GET", f"/api/v1/assignments/{watch_only['id']}/submissions", "teacher")
    assert again["videos"][0]["duration_s"] == 30.0
    assert by_name(again)["学生01"]["watch"][0]["completion"] == 0.0

    # Students of other classes, and teachers elsewhere, see none of it.
    await world.call("GET", f"/api/v1/assignments/{watch_only['id']}/submissions", "s1", 403)
    await world.call("GET", f"/api/v1/assignments/{watch_only['id']}/submissions", "outsider", 404)
