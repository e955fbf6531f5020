"""The observation framework and rubrics the district edits, and scoring rounds with a rubric."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.authz import Principal
from services.context import AppContext
from services.errors import Conflict
from services.research.review import service
from services.research.review.schemas import CategoryCreate, RubricCreate
from storage.models.identity import Role, User
from storage.models.research import ObservationCategory, Rubric
from tests import stacks
from tests.factories import make_user, token_for
from tests.services.research.review_world import RUBRIC, review_world
from tests.statements import counted_statements

pytestmark = pytest.mark.anyio


async def test_research_leads_and_the_district_edit_the_observation_framework(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base, admin = world.base, world.admin_auth
    assert (await client.get("/api/v1/review/categories")).status_code == 401

    for auth in (base.teacher_auth, world.school_admin_auth, base.student_auth):
        denied = await client.post("/api/v1/review/categories", json={"name": "作业设计"}, headers=auth)
        assert denied.status_code == 403
    # Research leads (教研员) design observation tools; they edit what the district admin made, too.
    by_lead = await client.post(
        "/api/v1/review/categories", json={"name": "课堂评价"}, headers=world.lead_auth
    )
    assert by_lead.status_code == 201, by_lead.text
    assert by_lead.json()["position"] == 6
    lead_edit = await client.patch(
        f"/api/v1/review/categories/{by_lead.json()['id']}",
        json={"description": "评价语言与反馈"},
        headers=world.lead_auth,
    )
    assert lead_edit.status_code == 200 and lead_edit.json()["description"] == "评价语言与反馈"
    assert (
        await client.delete(f"/api/v1/review/categories/{by_lead.json()['id']}", headers=world.lead_auth)
    ).status_code == 204
    created = await client.post(
        "/api/v1/review/categories",
        json={"name": " 作业设计 ", "description": "课堂练习的层次"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    category = created.json()
    assert (category["name"], category["position"], category["active"]) == ("作业设计", 6, True)
    duplicate = await client.post("/api/v1/review/categories", json={"name": "师生互动"}, headers=admin)
    assert duplicate.status_code == 409
    assert (
        await client.post("/api/v1/review/categories", json={"name": ""}, headers=admin)
    ).status_code == 422

    moved = await client.patch(
        f"/api/v1/review/categories/{category['id']}", json={"position": 0, "name": "练习设计"}, headers=admin
    )
    assert moved.status_code == 200 and moved.json()["name"] == "练习设计"
    assert set(list(await world.categories())[:2]) == {"教学目标", "练习设计"}  # by position
    renamed_onto = await client.patch(
        f"/api/v1/review/categories/{category['id']}", json={"name": "教学目标"}, headers=admin
    )
    assert renamed_onto.status_code == 409
    assert (
        await client.patch(
            f"/api/v1/review/categories/{category['id']}", json={"name": "x"}, headers=base.teacher_auth
        )
    ).status_code == 403
    assert (
        await client.patch(f"/api/v1/review/categories/{uuid.uuid4()}", json={"name": "x"}, headers=admin)
    ).status_code == 404

    # Deactivated: no new comments under it; existing ones keep it; listed only when asked for.
    lesson = await world.lesson()
    filed = await world.commented(
        lesson["id"], base.colleague_auth, start_s=1, category_id=category["id"], body="a"
    )
    deactivated = await client.patch(
        f"/api/v1/review/categories/{category['id']}", json={"active": False}, headers=admin
    )
    assert deactivated.json()["active"] is False
    assert "练习设计" not in await world.categories()
    everything = await client.get(
        "/api/v1/review/categories?include_inactive=true", headers=base.teacher_auth
    )
    assert "练习设计" in [item["name"] for item in everything.json()]
    late = await world.comment(
        lesson["id"], base.colleague_auth, start_s=2, category_id=category["id"], body="b"
    )
    assert late.status_code == 422
    assert (await world.timeline(lesson["id"]))["comments"][0]["category_name"] == "练习设计"

    # Deleted: comments filed under it keep their words and lose the category.
    assert (
        await client.delete(f"/api/v1/review/categories/{category['id']}", headers=base.teacher_auth)
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/review/categories/{category['id']}", headers=admin)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/review/categories/{category['id']}", headers=admin)
    ).status_code == 404
    (kept,) = (await world.timeline(lesson["id"]))["comments"]
    assert (kept["id"], kept["category_id"], kept["category_name"], kept["body"]) == (
        filed["id"],
        None,
        None,
        "a",
    )


async def test_rubrics_are_designed_by_research_leads_and_the_district(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    admin, teacher = world.admin_auth, world.base.teacher_auth

    def criteria(count: int, **overrides: Any) -> list[dict[str, Any]]:
        return [{"name": f"指标{n}", "max_score": 5, **overrides} for n in range(count)]

    for bad in (
        {"name": "空", "criteria": []},
        {"name": "太多", "criteria": criteria(31)},
        {"name": "倒置", "criteria": criteria(1, min_score=5, max_score=5)},
        {"name": "倒置", "criteria": criteria(1, min_score=6, max_score=5)},
        {"name": "重名", "criteria": [{"name": "同", "max_score": 5}, {"name": "同", "max_score": 3}]},
        {"name": "", "criteria": criteria(1)},
    ):
        response = await client.post("/api/v1/rubrics", json=bad, headers=admin)
        assert response.status_code == 422, (bad, response.text)
    for auth in (teacher, world.school_admin_auth, world.base.student_auth):
        assert (await client.post("/api/v1/rubrics", json=RUBRIC, headers=auth)).status_code == 403

    rubric = await world.rubric()
    assert rubric["max_total"] == 25 and rubric["active"] is True
    assert [(c["position"], c["name"], c["min_score"], c["max_score"]) for c in rubric["criteria"]] == [
        (0, "教学目标达成", 0, 10),
        (1, "师生互动", 0, 10),
        (2, "学生参与", 1, 5),
    ]
    widest = await world.rubric(name="三十项", criteria=criteria(30))
    assert len(widest["criteria"]) == 30
    assert (await client.post("/api/v1/rubrics", json=RUBRIC, headers=admin)).status_code == 409

    listed = await client.get("/api/v1/rubrics", headers=teacher)
    assert {item["name"] for item in listed.json()} == {RUBRIC["name"], "三十项"}
    assert (await client.get(f"/api/v1/rubrics/{rubric['id']}", headers=teacher)).json() == rubric
    assert (await client.get(f"/api/v1/rubrics/{uuid.uuid4()}", headers=teacher)).status_code == 404

    retired = await client.patch(
        f"/api/v1/rubrics/{widest['id']}", json={"active": False, "name": "三十项（停用）"}, headers=admin
    )
    assert retired.status_code == 200 and retired.json()["active"] is False
    assert retired.json()["name"] == "三十项（停用）" and len(retired.json()["criteria"]) == 30
    assert [item["name"] for item in (await client.get("/api/v1/rubrics", headers=teacher)).json()] == [
        RUBRIC["name"]
    ]
    everything = await client.get("/api/v1/rubrics?include_inactive=true", headers=teacher)
    assert len(everything.json()) == 2
    assert (
        await client.patch(f"/api/v1/rubrics/{widest['id']}", json={"active": True}, headers=teacher)
    ).status_code == 403
    assert (
        await client.patch(f"/api/v1/rubrics/{widest['id']}", json={"name": RUBRIC["name"]}, headers=admin)
    ).status_code == 409

    # A research lead designs a rubric of their own and edits the district's.
    lead = world.lead_auth
    designed = await client.post(
        "/api/v1/rubrics", json={**RUBRIC, "name": "低年级识字课观察表"}, headers=lead
    )
    assert designed.status_code == 201, designed.text
    edited = await client.patch(
        f"/api/v1/rubrics/{rubric['id']}", json={"description": "区级磨课通用量表（修订）"}, headers=lead
    )
    assert edited.status_code == 200 and edited.json()["description"] == "区级磨课通用量表（修订）"


async def test_scores_fit_the_rubric_and_scoring_again_replaces(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    lesson = await world.lesson()
    rubric = await world.rubric()
    ids = [criterion["id"] for criterion in rubric["criteria"]]
    url = f"/api/v1/resources/{lesson['id']}/versions/1/scores"

    async def put(
        scores: list[dict[str, Any]], auth: dict[str, str] | None = None, **body: Any
    ) -> httpx.Response:
        return await client.put(
            url,
            json={"rubric_id": rubric["id"], "scores": scores, **body},
            headers=auth or base.colleague_auth,
        )

    out_of_range = await put([{"criterion_id": ids[0], "score": 11}, {"criterion_id": ids[1], "score": 5},
                              {"criterion_id": ids[2], "score": 0}])  # fmt: skip
    assert out_of_range.status_code == 422
    assert [item["loc"] for item in out_of_range.json()["error"]["details"]] == [
        ["body", "scores", 0, "score"],
        ["body", "scores", 2, "score"],
    ]
    missing = await put([{"criterion_id": ids[0], "score": 5}, {"criterion_id": ids[1], "score": 5}])
    assert missing.status_code == 422
    assert [item["msg"] for item in missing.json()["error"]["details"]] == ["学生参与 is not scored"]
    twice = await put([{"criterion_id": i, "score": 3} for i in [*ids, ids[0]]])
    assert twice.status_code == 422
    stranger = await put(
        [*[{"criterion_id": i, "score": 3} for i in ids], {"criterion_id": str(uuid.uuid4()), "score": 1}]
    )
    assert stranger.status_code == 422
    assert (
        await put([{"criterion_id": i, "score": 3} for i in ids], rubric_id=str(uuid.uuid4()))
    ).status_code == 422
    assert (await put([{"criterion_id": i, "score": 2.5} for i in ids])).status_code == 422
    assert (await put([])).status_code == 422

    # One does not score one's own lesson; students never score; unknown rounds and lessons are 404.
    assert (await world.score(lesson["id"], 1, rubric, [5, 5, 3], base.teacher_auth)).status_code == 403
    assert (await world.score(lesson["id"], 1, rubric, [5, 5, 3], base.student_auth)).status_code == 403
    assert (await world.score(lesson["id"], 2, rubric, [5, 5, 3], base.colleague_auth)).status_code == 404
    assert (
        await world.score(str(uuid.uuid4()), 1, rubric, [5, 5, 3], base.colleague_auth)
    ).status_code == 404
    draft = await world.lesson(status="draft")
    assert (await world.score(draft["id"], 1, rubric, [5, 5, 3], base.colleague_auth)).status_code == 404
    nothing = await world.scores(lesson["id"], base.teacher_auth)
    assert nothing == {"resource_id": lesson["id"], "rubrics": []}

    first = await world.score(lesson["id"], 1, rubric, [4, 4, 2], base.colleague_auth)
    assert first.status_code == 200, first.text
    assert [item["score"] for item in first.json()["scores"]] == [4, 4, 2] and first.json()["total"] == 10
    again = await world.score(lesson["id"], 1, rubric, [9, 8, 5], base.colleague_auth)
    assert again.status_code == 200 and again.json()["total"] == 22
    assert (await world.score(lesson["id"], 1, rubric, [6, 6, 3], base.outsider_auth)).status_code == 200

    summary = await world.scores(lesson["id"], base.teacher_auth)
    (scored,) = summary["rubrics"]
    assert (scored["rubric_id"], scored["rubric_name"], scored["max_total"]) == (
        rubric["id"],
        RUBRIC["name"],
        25,
    )
    (round_one,) = scored["rounds"]
    assert round_one["reviewer_count"] == 2
    assert [item["average"] for item in round_one["criteria"]] == [7.5, 7.0, 4.0]
    assert round_one["overall_average"] == 18.5

    # A round nobody scored yet shows no averages; the next scored round compares with the last scored.
    await world.new_round(lesson["id"])
    await world.new_round(lesson["id"])
    assert (await world.score(lesson["id"], 3, rubric, [10, 9, 5], base.colleague_auth)).status_code == 200
    rounds = (await world.scores(lesson["id"], base.colleague_auth, rubric_id=rubric["id"]))["rubrics"][0][
        "rounds"
    ]
    assert [(item["version"], item["reviewer_count"], item["compared_to"]) for item in rounds] == [
        (1, 2, None),
        (2, 0, None),
        (3, 1, 1),
    ]
    assert rounds[1]["overall_average"] is None and rounds[1]["criteria"][0]["average"] is None
    assert [item["change"] for item in rounds[2]["criteria"]] == [2.5, 2.0, 1.0]
    assert rounds[2]["overall_change"] == 5.5

    # Seen by the teacher and the colleagues who may read the lesson, not by students nor guests; a
    # retired rubric keeps its history but takes no new scores.
    assert (await client.get(f"/api/v1/resources/{lesson['id']}/scores?rubric_id={uuid.uuid4()}",
                             headers=base.teacher_auth)).status_code == 404  # fmt: skip
    for auth in (world.lead_auth, world.school_admin_auth, world.admin_auth, world.second_auth):
        assert len((await world.scores(lesson["id"], auth))["rubrics"]) == 1
    student = await client.get(f"/api/v1/resources/{lesson['id']}/scores", headers=base.student_auth)
    assert student.status_code == 403 and student.json()["error"]["code"] == "forbidden"
    hidden = await client.get(f"/api/v1/resources/{draft['id']}/scores", headers=base.colleague_auth)
    assert hidden.status_code == 404
    public = await world.lesson(visibility="public")
    assert (await client.get(f"/api/v1/resources/{public['id']}/scores")).status_code == 401
    school_only = await world.lesson(visibility="school")
    async with context.sessionmaker() as session, session.begin():
        elsewhere = await make_user(session, Role.student, base.other_school)
    unreadable = await client.get(
        f"/api/v1/resources/{school_only['id']}/scores", headers=await token_for(client, elsewhere)
    )
    assert unreadable.status_code == 404
    await client.patch(f"/api/v1/rubrics/{rubric['id']}", json={"active": False}, headers=world.admin_auth)
    assert (await world.score(lesson["id"], 3, rubric, [10, 9, 5], base.outsider_auth)).status_code == 422
    assert len((await world.scores(lesson["id"], base.teacher_auth))["rubrics"]) == 1


async def _race(
    sessions: async_sessionmaker[AsyncSession],
    create: Callable[[AsyncSession], Coroutine[Any, Any, object]],
) -> None:
    """Two requests create the same name: the second checks while the first is written but not yet
    committed, and it is the unique constraint that refuses it; that is a 409 too, not a 500."""
    async with sessions() as first, sessions() as second:
        await create(first)
        racing = asyncio.create_task(create(second))
        await asyncio.sleep(0.3)  # it checks, finds nothing committed, and waits on its insert
        await first.commit()
        with pytest.raises(Conflict):
            await racing
        await second.rollback()


async def test_names_taken_by_a_concurrent_request_are_a_conflict(database: stacks.Database) -> None:
    # Sessions on connections of their own (tests otherwise share one connection that is rolled back),
    # so that the two requests really run side by side; what they commit is removed at the end.
    sessions = async_sessionmaker(database.engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        user = await make_user(session, Role.research_lead)
    lead = Principal.of(user)
    category = CategoryCreate(name="同时提交的类别")
    rubric = RubricCreate.model_validate({**RUBRIC, "name": "同时提交的量表"})
    try:
        await _race(sessions, lambda session: service.create_category(session, lead, category))
        await _race(sessions, lambda session: service.create_rubric(session, lead, rubric))
        async with sessions() as session:
            categories = await service.list_categories(session, include_inactive=True)
            assert [item.name for item in categories].count(category.name) == 1
            rubrics = await service.list_rubrics(session, include_inactive=True)
            assert [view[0].name for view in rubrics] == [rubric.name]
    finally:
        async with sessions() as session, session.begin():
            await session.execute(
                delete(ObservationCategory).where(ObservationCategory.name == category.name)
            )
            await session.execute(delete(Rubric).where(Rubric.name == rubric.name))
            await session.execute(delete(User).where(User.id == user.id))


async def test_reading_scores_takes_as_many_queries_for_three_rubrics_as_for_one(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    lesson = await world.lesson()
    await world.new_round(lesson["id"])
    rubrics = [await world.rubric(name=f"量表{number}") for number in range(3)]
    url = f"/api/v1/resources/{lesson['id']}/scores"

    async def statements_to_read() -> int:
        with counted_statements(context.engine) as statements:
            response = await client.get(url, headers=base.teacher_auth)
        assert response.status_code == 200, response.text
        return len(statements)

    assert (await world.score(lesson["id"], 1, rubrics[0], [5, 5, 3], base.colleague_auth)).status_code == 200
    with_one = await statements_to_read()
    for rubric in rubrics[1:]:
        for number in (1, 2):
            for auth in (base.colleague_auth, base.outsider_auth):
                assert (await world.score(lesson["id"], number, rubric, [6, 4, 2], auth)).status_code == 200
    with_three = await statements_to_read()
    assert with_three == with_one

    scored = await world.scores(lesson["id"], base.teacher_auth)
    assert [item["rubric_name"] for item in scored["rubrics"]] == ["量表0", "量表1", "量表2"]
    first, *others = scored["rubrics"]
    assert [item["reviewer_count"] for item in first["rounds"]] == [1, 0]
    for other in others:
        assert [item["reviewer_count"] for item in other["rounds"]] == [2, 2]
        assert [item["average"] for item in other["rounds"][1]["criteria"]] == [6.0, 4.0, 2.0]
