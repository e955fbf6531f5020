"""The 磨课 story, on both stacks: a trial lesson reviewed online by colleagues, round after round."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.context import AppContext
from tests.services.research.review_world import (
    COLLEAGUE_NAME,
    LESSON_SECONDS,
    OUTSIDER_NAME,
    SECOND_NAME,
    ReviewWorld,
    review_world,
)

pytestmark = pytest.mark.anyio


def _round(scores: dict[str, Any], number: int) -> dict[str, Any]:
    (rubric,) = scores["rubrics"]
    found: dict[str, Any] = next(item for item in rubric["rounds"] if item["version"] == number)
    return found


async def test_a_trial_lesson_is_reviewed_scored_and_improved_over_two_rounds(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    rubric = await world.rubric()
    categories = await world.categories()
    assert list(categories) == ["教学目标", "教学过程", "师生互动", "学生活动", "板书设计", "信息技术应用"]

    # Round 1: the teacher uploads the recording and publishes it district-wide; the worker measures it.
    lesson = await world.lesson(title="树和喜鹊 第一课时", status="published")
    lesson_id = lesson["id"]
    detail = await base.detail(lesson_id)
    assert detail["versions"][0]["files"][0]["duration_s"] == pytest.approx(LESSON_SECONDS, abs=0.5)

    assert (detail["grade"], detail["subject"]) == (2, "语文")

    # Three colleagues who teach other grades and subjects (two of this school, one of another school)
    # review it. Users carry no grade of their own: their display names say what they teach.
    goal = await world.commented(
        lesson_id,
        base.colleague_auth,
        start_s=2.5,
        category_id=categories["教学目标"],
        body="导入环节的**目标**不够明确",
    )
    questions = await world.commented(
        lesson_id,
        world.second_auth,
        start_s=5,
        end_s=12,
        category_id=categories["师生互动"],
        body="这一段提问集中在前排学生",
    )
    board = await world.commented(
        lesson_id,
        base.outsider_auth,
        start_s=15,
        category_id=categories["板书设计"],
        body="板书可以更有条理",
    )
    assert goal["version"] == 1 and goal["body_html"] == "<p>导入环节的<strong>目标</strong>不够明确</p>\n"
    assert (questions["start_s"], questions["end_s"]) == (5, 12)
    assert board["category_name"] == "板书设计" and board["author_id"] == str(base.outsider.id)
    for auth, values in (
        (base.colleague_auth, [6, 5, 3]),
        (world.second_auth, [7, 4, 3]),
        (base.outsider_auth, [5, 6, 2]),
    ):
        scored = await world.score(lesson_id, 1, rubric, values, auth)
        assert scored.status_code == 200, scored.text
        assert scored.json()["total"] == sum(values)

    # The teacher answers one comment and settles another.
    reply = await world.commented(
        lesson_id, base.teacher_auth, parent_id=goal["id"], body="谢谢，第二次试课会先出示学习目标"
    )
    assert reply["version"] == 1 and reply["start_s"] is None
    resolved = await client.post(f"/api/v1/comments/{board['id']}/resolve", headers=base.teacher_auth)
    assert resolved.status_code == 200 and resolved.json()["resolved"] is True

    first = await world.timeline(lesson_id)
    assert first["version"] == 1 and first["label"] == "第1次试课"
    assert first["duration_s"] == pytest.approx(LESSON_SECONDS, abs=0.5)
    assert [comment["start_s"] for comment in first["comments"]] == [2.5, 5, 15]
    assert [comment["author_name"] for comment in first["comments"]] == [
        COLLEAGUE_NAME,
        SECOND_NAME,
        OUTSIDER_NAME,
    ]
    assert [item["id"] for item in first["comments"][0]["replies"]] == [reply["id"]]
    assert [comment["resolved"] for comment in first["comments"]] == [False, False, True]
    assert first["carried_over"] == []

    # Round 2: the improved lesson. Round 1's open comments come along; the settled one does not.
    second_round = await world.new_round(lesson_id)
    assert (second_round["number"], second_round["label"]) == (2, "第2次试课")
    current = await world.timeline(lesson_id)
    assert current["version"] == 2 and current["comments"] == []
    assert [(item["id"], item["version"]) for item in current["carried_over"]] == [
        (goal["id"], 1),
        (questions["id"], 1),
    ]
    assert [item["id"] for item in current["carried_over"][0]["replies"]] == [reply["id"]]
    # Once dealt with in round 2, an issue is resolved and no longer carried.
    done = await client.post(f"/api/v1/comments/{goal['id']}/resolve", headers=base.teacher_auth)
    assert done.status_code == 200
    current = await world.timeline(lesson_id)
    assert [item["id"] for item in current["carried_over"]] == [questions["id"]]
    # Round 1 itself still shows everything as it was discussed.
    assert len((await world.timeline(lesson_id, version=1))["comments"]) == 3

    better = await world.commented(
        lesson_id,
        base.colleague_auth,
        start_s=3,
        category_id=categories["教学目标"],
        body="目标出示清楚了",
    )
    assert better["version"] == 2
    for auth, values in (
        (base.colleague_auth, [8, 7, 4]),
        (world.second_auth, [8, 8, 4]),
        (base.outsider_auth, [7, 6, 4]),
    ):
        assert (await world.score(lesson_id, 2, rubric, values, auth)).status_code == 200

    # What the teacher looks at between rounds: averages per criterion and how they moved.
    scores = await world.scores(lesson_id, base.teacher_auth, rubric_id=rubric["id"])
    one, two = _round(scores, 1), _round(scores, 2)
    assert (one["reviewer_count"], two["reviewer_count"]) == (3, 3)
    assert [item["average"] for item in one["criteria"]] == [6.0, 5.0, 2.67]
    assert one["overall_average"] == 13.67 and one["compared_to"] is None
    assert [item["change"] for item in one["criteria"]] == [None, None, None]
    assert [item["average"] for item in two["criteria"]] == [7.67, 7.0, 4.0]
    assert [item["change"] for item in two["criteria"]] == [1.67, 2.0, 1.33]
    assert (two["overall_average"], two["overall_change"], two["compared_to"]) == (18.67, 5.0, 1)
    assert [item["name"] for item in two["criteria"]] == ["教学目标达成", "师生互动", "学生参与"]

    # Every colleague's comment reached the teacher; the teacher's own reply did not.
    inbox = await world.inbox(base.teacher_auth)
    lesson_comments = [item for item in inbox["items"] if item["kind"] == "lesson_comment"]
    assert len(lesson_comments) == 4 and inbox["unread_count"] == 4
    assert {item["subject"]["comment_id"] for item in lesson_comments} == {
        goal["id"],
        questions["id"],
        board["id"],
        better["id"],
    }
    assert all(item["subject"]["resource_id"] == lesson_id for item in lesson_comments)
    marked = await client.post(
        "/api/v1/notifications/read", json={"ids": [lesson_comments[0]["id"]]}, headers=base.teacher_auth
    )
    assert marked.status_code == 200 and marked.json()["unread_count"] == 3
    marked = await client.post("/api/v1/notifications/read", json={}, headers=base.teacher_auth)
    assert marked.json()["unread_count"] == 0
    colleague_inbox = await world.inbox(base.colleague_auth)
    assert [(item["kind"], item["subject"]["comment_id"]) for item in colleague_inbox["items"]] == [
        ("reply", reply["id"])
    ]

    await _student_sees_the_lesson_not_its_review(world, lesson_id, rubric, questions)
    await _research_lead_closes_a_topic_about_the_lesson(world, lesson_id)


async def _student_sees_the_lesson_not_its_review(
    world: ReviewWorld, lesson_id: str, rubric: dict[str, Any], comment: dict[str, Any]
) -> None:
    client, student = world.client, world.base.student_auth
    # The lesson is visible to the student; what colleagues said and scored is not.
    assert (await client.get(f"/api/v1/resources/{lesson_id}", headers=student)).status_code == 200
    refused = [
        await client.get(f"/api/v1/resources/{lesson_id}/comments", headers=student),
        await client.get(f"/api/v1/resources/{lesson_id}/scores", headers=student),
        await world.comment(lesson_id, student, start_s=1, body="我觉得很好"),
        await world.comment(lesson_id, student, parent_id=comment["id"], body="同意"),
        await world.score(lesson_id, 2, rubric, [10, 10, 5], student),
        await client.post(f"/api/v1/comments/{comment['id']}/resolve", headers=student),
        await client.post(f"/api/v1/comments/{comment['id']}/unresolve", headers=student),
        await client.patch(f"/api/v1/comments/{comment['id']}", json={"body": "改"}, headers=student),
        await client.delete(f"/api/v1/comments/{comment['id']}", headers=student),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert refused[0].json()["error"]["code"] == "forbidden"


async def _research_lead_closes_a_topic_about_the_lesson(world: ReviewWorld, lesson_id: str) -> None:
    client, base = world.client, world.base
    opened = await client.post(
        "/api/v1/topics",
        json={
            "title": "《树和喜鹊》磨课研讨",
            "body": "两次试课的变化，请大家议一议。",
            "grades": [2],
            "subjects": ["语文"],
            "resource_ids": [lesson_id],
            "visibility": "district",
        },
        headers=base.teacher_auth,
    )
    assert opened.status_code == 201, opened.text
    topic = opened.json()
    assert [item["id"] for item in topic["resources"]] == [lesson_id]
    posted = await client.post(
        f"/api/v1/topics/{topic['id']}/posts",
        json={"body": "第二次试课提问面广了很多"},
        headers=base.outsider_auth,
    )
    assert posted.status_code == 201, posted.text
    summarized = await client.post(
        f"/api/v1/topics/{topic['id']}/summary",
        json={"summary": "目标出示、提问覆盖面两处改进明显；板书仍需打磨。", "close": True},
        headers=world.lead_auth,
    )
    assert summarized.status_code == 200, summarized.text
    assert summarized.json()["state"] == "closed"
    assert summarized.json()["summarized_by_id"] == str(world.lead.id)
    late = await client.post(
        f"/api/v1/topics/{topic['id']}/posts", json={"body": "补充一点"}, headers=base.colleague_auth
    )
    # The colleague may post in the topic; it is the topic being closed that refuses the post.
    assert late.status_code == 409, late.text
    assert late.json()["error"]["code"] == "conflict"
