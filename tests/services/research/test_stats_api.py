"""Research statistics (研修统计): what is counted, for whom, and who may look."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from services.context import AppContext
from storage.models.identity import Visibility
from storage.models.research import Post, RubricScore
from tests import samples
from tests.factories import make_topic
from tests.services.research.review_world import ReviewWorld, review_world

pytestmark = pytest.mark.anyio

LONG_AGO = datetime(2020, 3, 1, tzinfo=UTC)


async def _topics_and_posts(world: ReviewWorld) -> None:
    """Rows as the topics API writes them: counting does not depend on that API."""
    base = world.base
    async with world.base.context.sessionmaker() as session, session.begin():
        # The teacher and the colleague are both of base.school: their topics are that school's.
        recent = await make_topic(
            session,
            base.teacher,
            title="识字教学研讨",
            body="如何在低年级做好随文识字？",
            visibility=Visibility.district,
        )
        old = await make_topic(
            session,
            base.colleague,
            title="旧话题",
            body="几年前的讨论",
            visibility=Visibility.school,
            created_at=LONG_AGO,
            updated_at=LONG_AGO,
            last_activity_at=LONG_AGO,
        )
        session.add_all(
            [
                Post(id=uuid.uuid4(), topic_id=recent.id, author_id=base.outsider.id, body="同意"),
                Post(id=uuid.uuid4(), topic_id=recent.id, author_id=base.outsider.id, body="补充"),
                Post(
                    id=uuid.uuid4(),
                    topic_id=recent.id,
                    author_id=base.outsider.id,
                    body="",
                    deleted_at=datetime.now(UTC),
                ),
                Post(id=uuid.uuid4(), topic_id=old.id, author_id=world.lead.id, body="当年的总结"),
            ]
        )


async def _activity(world: ReviewWorld) -> None:
    base = world.base
    rubric = await world.rubric()
    polished = await world.lesson(title="树和喜鹊")
    await world.new_round(polished["id"])
    await world.lesson(title="一次就好")
    await world.lesson(title="外校的课", auth=base.outsider_auth)
    micro = await base.upload(
        "微课.mp4", samples.mp4_bytes(duration_s=1.0), base.outsider_auth, resource_type="micro_lesson"
    )
    assert micro.status_code == 201

    lesson_id = polished["id"]
    first = await world.commented(lesson_id, base.colleague_auth, version=1, start_s=1, body="一")
    await world.commented(lesson_id, base.colleague_auth, parent_id=first["id"], body="再补充")
    await world.commented(
        lesson_id, base.teacher_auth, parent_id=first["id"], body="谢谢"
    )  # one's own lesson
    await world.commented(lesson_id, base.outsider_auth, start_s=2, body="二")
    await world.commented(lesson_id, world.lead_auth, start_s=3, body="三")
    withdrawn = await world.commented(lesson_id, world.second_auth, start_s=4, body="撤回")
    deleted = await world.client.delete(f"/api/v1/comments/{withdrawn['id']}", headers=world.second_auth)
    assert deleted.status_code == 204
    for auth, version in ((base.colleague_auth, 1), (base.colleague_auth, 2), (base.outsider_auth, 1)):
        assert (await world.score(lesson_id, version, rubric, [5, 5, 3], auth)).status_code == 200
    # Scoring again the same round is still one round scored.
    assert (await world.score(lesson_id, 1, rubric, [6, 5, 3], base.colleague_auth)).status_code == 200
    await _topics_and_posts(world)


async def _stats(world: ReviewWorld, auth: dict[str, str], **params: str) -> dict[str, Any]:
    response = await world.client.get("/api/v1/research/stats", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _row(rows: list[dict[str, Any]], key: str, value: object) -> dict[str, Any]:
    found: dict[str, Any] = next(row for row in rows if row[key] == str(value))
    return found


COUNTS = (
    "topics_opened",
    "posts_written",
    "review_comments",
    "rounds_scored",
    "lessons",
    "lessons_with_rounds",
    "rounds",
    "rounds_per_lesson",
)


def _counts(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in COUNTS)


async def test_school_activity_per_teacher_and_per_school(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    await _activity(world)

    mine = await _stats(world, world.school_admin_auth)
    assert mine["school_id"] == str(base.school.id)
    assert [row["school_id"] for row in mine["schools"]] == [str(base.school.id)]
    teachers = mine["teachers"]
    # Everyone of the school who takes part in teaching research, busiest first; students are not counted.
    assert {row["user_id"] for row in teachers} == {
        str(user.id) for user in (base.teacher, base.colleague, world.second, world.school_admin)
    }
    assert mine["teacher_total"] == 4
    assert teachers[0]["user_id"] == str(base.colleague.id)
    #                                     topics posts comments scored lessons polished rounds per-lesson
    assert _counts(_row(teachers, "user_id", base.teacher.id)) == (1, 0, 0, 0, 2, 1, 3, 1.5)
    assert _counts(_row(teachers, "user_id", base.colleague.id)) == (1, 0, 2, 2, 0, 0, 0, None)
    assert _counts(_row(teachers, "user_id", world.second.id)) == (0, 0, 0, 0, 0, 0, 0, None)
    (school,) = mine["schools"]
    assert school["teachers"] == 4 and school["school_name"] == base.school.name
    assert _counts(school) == (2, 0, 2, 2, 2, 1, 3, 1.5)
    assert _counts(mine["totals"]) == _counts(school)

    # A period: the old topic falls outside it.
    recent = await _stats(
        world, world.school_admin_auth, since="2025-01-01", until="2100-01-01T00:00:00+08:00"
    )
    assert _counts(_row(recent["teachers"], "user_id", base.colleague.id))[0] == 0
    assert recent["since"].startswith("2025-01-01T00:00:00")
    nothing_yet = await _stats(world, world.school_admin_auth, until="2021-01-01")
    assert _counts(nothing_yet["totals"]) == (1, 0, 0, 0, 0, 0, 0, None)

    paged = await _stats(world, world.school_admin_auth, limit="1", offset="1")
    assert paged["teacher_total"] == 4 and len(paged["teachers"]) == 1
    assert paged["teachers"][0]["user_id"] == teachers[1]["user_id"]


async def test_the_district_sees_every_school_and_people_without_one(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    await _activity(world)

    for auth in (world.lead_auth, world.admin_auth):
        district = await _stats(world, auth)
        assert district["school_id"] is None
        schools = district["schools"]
        ours = _row(schools, "school_id", base.school.id)
        theirs = _row(schools, "school_id", base.other_school.id)
        (nowhere,) = [row for row in schools if row["school_id"] is None]
        assert _counts(ours) == (2, 0, 2, 2, 2, 1, 3, 1.5)
        # The other school's teacher recorded a lesson and a micro-lesson (微课): both are lessons.
        assert _counts(theirs) == (0, 2, 1, 1, 2, 0, 2, 1.0)
        # Research leads and district administrators belong to no school; they are counted too.
        assert _counts(nowhere) == (0, 1, 1, 0, 0, 0, 0, None)
        assert _counts(_row(district["teachers"], "user_id", world.lead.id)) == (0, 1, 1, 0, 0, 0, 0, None)
        assert district["totals"]["review_comments"] == sum(row["review_comments"] for row in schools)

    one = await _stats(world, world.lead_auth, school_id=str(base.other_school.id))
    assert [row["school_id"] for row in one["schools"]] == [str(base.other_school.id)]
    assert [row["user_id"] for row in one["teachers"]] == [str(base.outsider.id)]


async def test_who_may_see_research_statistics(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await review_world(client, context)
    base = world.base
    url = "/api/v1/research/stats"

    own = await client.get(url, params={"school_id": str(base.school.id)}, headers=world.school_admin_auth)
    assert own.status_code == 200
    other = await client.get(
        url, params={"school_id": str(base.other_school.id)}, headers=world.school_admin_auth
    )
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    for auth in (base.teacher_auth, base.student_auth):
        assert (await client.get(url, headers=auth)).status_code == 403
    assert (await client.get(url)).status_code == 401
    unknown = await client.get(url, params={"school_id": str(uuid.uuid4())}, headers=world.lead_auth)
    assert unknown.status_code == 404
    backwards = await client.get(
        url, params={"since": "2026-02-01", "until": "2026-01-01"}, headers=world.lead_auth
    )
    assert backwards.status_code == 422
    assert (await client.get(url, params={"since": "yesterday"}, headers=world.lead_auth)).status_code == 422


async def test_periods_at_the_ends_of_the_calendar(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await review_world(client, context)
    url = "/api/v1/research/stats"

    # Their UTC time would fall before year 1 or after year 9999: an invalid query, not a server error.
    for name, moment in (("since", "0001-01-01T00:00:00+01:00"), ("until", "9999-12-31T23:59:59-01:00")):
        refused = await client.get(url, params={name: moment}, headers=world.lead_auth)
        assert refused.status_code == 422, refused.text
        (detail,) = refused.json()["error"]["details"]
        assert detail["loc"] == ["query", name]
    # The very ends themselves are fine, in UTC or in a zone that keeps them within the calendar.
    widest = await _stats(
        world, world.lead_auth, since="0001-01-01T00:00:00", until="9999-12-31T23:59:59+00:00"
    )
    assert widest["since"].startswith("0001-01-01T00:00:00") and widest["until"].startswith("9999-12-31")
    behind_utc = await _stats(world, world.lead_auth, since="0001-01-01T00:00:00-08:00")
    assert behind_utc["since"].startswith("0001-01-01T08:00:00")


async def test_a_round_counts_where_it_was_first_scored_not_where_it_was_corrected(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    rubric = await world.rubric()
    lesson = await world.lesson()
    assert (await world.score(lesson["id"], 1, rubric, [5, 5, 3], base.colleague_auth)).status_code == 200
    # As if that scoring happened long ago; the colleague corrects the scores today.
    async with context.sessionmaker() as session, session.begin():
        await session.execute(
            update(RubricScore)
            .where(RubricScore.reviewer_id == base.colleague.id)
            .values(created_at=LONG_AGO, updated_at=LONG_AGO)
        )
    corrected = await world.score(lesson["id"], 1, rubric, [7, 6, 4], base.colleague_auth)
    assert corrected.status_code == 200

    def scored(stats: dict[str, Any]) -> int:
        count: int = _row(stats["teachers"], "user_id", base.colleague.id)["rounds_scored"]
        return count

    assert scored(await _stats(world, world.lead_auth, until="2021-01-01")) == 1
    assert scored(await _stats(world, world.lead_auth, since="2025-01-01")) == 0
    assert scored(await _stats(world, world.lead_auth)) == 1
