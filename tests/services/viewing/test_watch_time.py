"""Watch time end to end on both stacks: the union of reported ranges, resuming, validation and
rate limits, the teacher's per-round statistics with retention, guests counted anonymously, and
a micro-lesson's student progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from services.context import AppContext
from storage.models.identity import Role
from tests import samples
from tests.factories import make_user, token_for
from tests.services.resources.scenario import District, district, file_url, main_file

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def small_ladder(context: AppContext) -> None:
    context.settings.video_ladder = [120]
    context.settings.video_preset = "ultrafast"


async def lesson(world: District, **metadata: Any) -> tuple[dict[str, Any], str]:
    metadata.setdefault("resource_type", "lesson_record")
    resource = await world.created("课.mp4", samples.video_bytes("mp4", duration_s=20.0, fps=2), **metadata)
    await world.process()
    video = main_file(await world.detail(resource["id"]))
    assert video["duration_s"] == pytest.approx(20.0, abs=0.6)
    return resource, file_url(resource, video["id"], "watch")


async def watch(
    client: httpx.AsyncClient, url: str, ranges: Sequence[Sequence[float]], position: float, **kwargs: Any
) -> httpx.Response:
    body: dict[str, Any] = {"ranges": ranges, "position_s": position}
    if "guest_id" in kwargs:
        body["guest_id"] = kwargs.pop("guest_id")
    return await client.post(url, json=body, **kwargs)


async def test_the_union_of_ranges_counts_and_the_viewer_resumes(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    _, url = await lesson(world)
    auth = {"headers": world.colleague_auth}
    first = await watch(client, url, [[0, 5], [3, 8]], 8, **auth)
    assert first.status_code == 200, first.text
    assert first.json()["watched_s"] == 8
    # Replaying, or a tab left open reporting the same stretch, adds nothing.
    again = await watch(client, url, [[0, 8], [2, 6]], 12.5, **auth)
    assert again.json()["watched_s"] == 8
    resumed = (await client.get(url, headers=world.colleague_auth)).json()
    assert resumed["position_s"] == 12.5 and resumed["completion"] == pytest.approx(0.4, abs=0.02)

    for bad in ([[0, 500]], [[9, 3]], [[-1, 2]]):
        assert (await watch(client, url, bad, 1, **auth)).status_code == 422
    assert (await watch(client, url, [], 9999, **auth)).status_code == 422

    context.settings.watch_reports_per_minute = 3
    assert (await watch(client, url, [[8, 9]], 9, **auth)).status_code == 200
    limited = await watch(client, url, [[9, 10]], 10, **auth)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"


async def test_the_teacher_sees_viewers_watch_time_completion_and_retention(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    resource, url = await lesson(world)
    await watch(client, url, [[0, 20]], 20, headers=world.teacher_auth)  # the teacher's own: not counted
    await watch(client, url, [[0, 10]], 10, headers=world.colleague_auth)
    await watch(client, url, [[0, 20]], 20, headers=world.student_auth)
    link = await client.post(
        "/api/v1/share-links",
        json={"object_type": "resource", "object_id": resource["id"]},
        headers=world.teacher_auth,
    )
    token = link.json()["token"]
    anonymous = await watch(client, url, [[0, 5]], 5, params={"share": token})
    assert anonymous.status_code == 422  # a guest is counted by the id their browser keeps
    guest = await watch(client, url, [[0, 5]], 5, params={"share": token}, guest_id="guest-browser-1")
    assert guest.status_code == 200, guest.text
    assert (
        await watch(client, url, [[0, 5]], 5, params={"share": "nope"}, guest_id="guest-browser-1")
    ).status_code == 404

    stats_url = f"/api/v1/resources/{resource['id']}/versions/1/watch-stats"
    stats = (await client.get(stats_url, headers=world.teacher_auth)).json()
    assert (stats["viewers"], stats["guests"]) == (3, 1)
    assert stats["total_watch_s"] == pytest.approx(35, abs=1.5)
    assert stats["average_completion"] == pytest.approx((0.5 + 1 + 0.25) / 3, abs=0.03)
    retention = stats["retention"]
    assert len(retention) == 21 and retention[0] == 1.0
    assert retention[10] == pytest.approx(2 / 3, abs=0.01)  # at 50 %: the colleague stopped right there
    assert retention[20] == pytest.approx(1 / 3, abs=0.01)  # the end: only the student
    for other in (world.colleague_auth, world.student_auth):
        assert (await client.get(stats_url, headers=other)).status_code == 403
    assert (await client.get(stats_url, headers=world.outsider_auth)).status_code == 404


async def test_teachers_see_which_students_finished_a_micro_lesson(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    async with context.sessionmaker() as session, session.begin():
        idler = await make_user(session, Role.student, world.school)
    resource, url = await lesson(world, resource_type="micro_lesson")
    await watch(client, url, [[0, 19.5]], 19.5, headers=world.student_auth)
    await watch(client, url, [[0, 3]], 3, headers=await token_for(client, idler))

    progress_url = f"/api/v1/resources/{resource['id']}/versions/1/student-progress"
    seen = (await client.get(progress_url, headers=world.colleague_auth)).json()["students"]
    by_id = {row["student_id"]: row for row in seen}
    assert by_id[str(world.student.id)]["finished"] is True
    assert by_id[str(idler.id)]["finished"] is False and by_id[str(idler.id)]["completion"] == pytest.approx(
        0.15, abs=0.02
    )
    assert (await client.get(progress_url, headers=world.student_auth)).status_code == 403
    assert (
        await client.get(progress_url, headers=world.outsider_auth)
    ).status_code == 404  # not theirs to read


async def test_watch_minutes_of_colleagues_lessons_count_in_research_stats(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    async with context.sessionmaker() as session, session.begin():
        lead = await make_user(session, Role.research_lead)
    content = samples.video_bytes("mp4", duration_s=130.0, fps=1, width=64, height=48)
    resource = await world.created("长课.mp4", content, resource_type="lesson_record")
    await world.process()
    url = file_url(resource, main_file(await world.detail(resource["id"]))["id"], "watch")
    await watch(client, url, [[0, 70]], 70, headers=world.colleague_auth)
    await watch(client, url, [[60, 130], [0, 10]], 130, headers=world.colleague_auth)  # 130 s in all
    await watch(client, url, [[0, 130]], 130, headers=world.teacher_auth)  # one's own lesson: not 观课

    params: dict[str, str | int] = {"school_id": str(world.school.id), "limit": 100}
    stats = (
        await client.get("/api/v1/research/stats", params=params, headers=await token_for(client, lead))
    ).json()
    minutes = {row["user_id"]: row["watch_minutes"] for row in stats["teachers"]}
    assert minutes[str(world.colleague.id)] == 2 and minutes[str(world.teacher.id)] == 0
    assert stats["totals"]["watch_minutes"] == 2 and stats["schools"][0]["watch_minutes"] == 2
    later: dict[str, str | int] = {**params, "since": "2999-01-01"}
    stats = (
        await client.get("/api/v1/research/stats", params=later, headers=await token_for(client, lead))
    ).json()
    assert stats["totals"]["watch_minutes"] == 0
