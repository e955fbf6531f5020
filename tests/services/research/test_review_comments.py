"""Timed review comments: bad input, who may do what, edits with revisions, deletion, resolving."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from services.context import AppContext
from storage.models.research import Revision
from tests import samples
from tests.services.research.review_world import LESSON_SECONDS, review_world

pytestmark = pytest.mark.anyio


async def test_bad_comments_are_refused_with_the_reason(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    lesson = await world.lesson()
    categories = await world.categories()
    reviewer = base.colleague_auth

    async def refused(status: int, code: str, **body: object) -> dict[str, object]:
        response = await world.comment(lesson["id"], reviewer, **body)
        assert response.status_code == status, (body, response.text)
        error: dict[str, object] = response.json()["error"]
        assert error["code"] == code
        return error

    beyond = await refused(422, "invalid_payload", start_s=LESSON_SECONDS + 10, body="太晚了")
    assert "start_s" in str(beyond["message"]) and beyond["details"]
    await refused(422, "invalid_payload", start_s=3, end_s=LESSON_SECONDS + 10, body="范围超出")
    await refused(422, "invalid_payload", start_s=8, end_s=4, body="倒过来")
    await refused(422, "invalid_payload", start_s=8, end_s=8, body="一样")
    await refused(422, "invalid_payload", end_s=8, body="没有开始")
    await refused(422, "invalid_payload", body="没有时间")
    await refused(422, "invalid_payload", start_s=-1, body="负数")
    await refused(422, "invalid_payload", start_s=1, body="   ")
    unknown = await refused(422, "invalid_payload", start_s=1, category_id=str(uuid.uuid4()), body="x")
    assert unknown["details"] == [
        {"loc": ["body", "category_id"], "msg": "No such observation category", "type": "value_error"}
    ]
    await refused(404, "not_found", start_s=1, version=2, body="没有第二轮")
    # Far beyond any round and any integer column: refused as invalid, not a database error.
    await refused(422, "invalid_payload", start_s=1, version=10**20, body="第无穷轮")
    missing = await world.comment(str(uuid.uuid4()), reviewer, start_s=1, body="没有这节课")
    assert missing.status_code == 404

    # A reply hangs off a comment of the same lesson, one level deep, in that comment's round.
    comment = await world.commented(
        lesson["id"], reviewer, start_s=1, category_id=categories["教学过程"], body="a"
    )
    reply = await world.commented(lesson["id"], base.teacher_auth, parent_id=comment["id"], body="b")
    await refused(422, "invalid_payload", parent_id=reply["id"], body="回复的回复")
    await refused(422, "invalid_payload", parent_id=str(uuid.uuid4()), body="没有这条")
    await refused(422, "invalid_payload", parent_id=comment["id"], version=2, body="别的轮次")
    other = await world.lesson()
    elsewhere = await world.comment(other["id"], reviewer, parent_id=comment["id"], body="别的课")
    assert elsewhere.status_code == 422

    # Only recordings are reviewed on a timeline.
    plan = await base.created("教案.pdf", samples.pdf_bytes(["教案"]), resource_type="lesson_plan")
    not_a_recording = await world.comment(plan["id"], reviewer, start_s=1, body="教案")
    assert not_a_recording.status_code == 409

    # While the duration is not measured yet, any moment from 0 on is accepted.
    unprocessed = await base.created(
        "未处理.mp4", samples.mp4_bytes(duration_s=1.0), resource_type="lesson_record"
    )
    early = await world.comment(unprocessed["id"], reviewer, start_s=500, body="还没处理")
    assert early.status_code == 201, early.text


async def test_drafts_and_other_schools_follow_the_read_and_comment_rules(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    draft = await world.lesson(status="draft")
    # Invisible to colleagues: as if it did not exist.
    hidden = await world.comment(draft["id"], base.colleague_auth, start_s=1, body="草稿")
    assert hidden.status_code == 404
    timeline = await client.get(f"/api/v1/resources/{draft['id']}/comments", headers=base.colleague_auth)
    assert timeline.status_code == 404
    # The school administrator sees the draft but does not review it yet; the teacher notes on it.
    seen = await world.comment(draft["id"], world.school_admin_auth, start_s=1, body="草稿")
    assert seen.status_code == 403
    own = await world.commented(draft["id"], base.teacher_auth, start_s=1, body="自己的备注")
    assert own["version"] == 1
    assert (await world.inbox(base.teacher_auth))["items"] == []

    # School-only lessons are reviewed inside the school; the other school does not see them.
    school_only = await world.lesson(visibility="school")
    assert (
        await world.comment(school_only["id"], base.outsider_auth, start_s=1, body="x")
    ).status_code == 404
    assert (
        await world.comment(school_only["id"], base.colleague_auth, start_s=1, body="x")
    ).status_code == 201
    # Guests never read the review, even of a public lesson.
    public = await world.lesson(visibility="public")
    guest = await client.get(f"/api/v1/resources/{public['id']}/comments")
    assert guest.status_code == 401


async def test_authors_edit_with_revisions_and_comments_are_deleted_by_the_right_people(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    lesson = await world.lesson()
    categories = await world.categories()
    comment = await world.commented(
        lesson["id"],
        base.colleague_auth,
        start_s=4,
        category_id=categories["学生活动"],
        body="小组活动时间偏短",
    )

    edited = await client.patch(
        f"/api/v1/comments/{comment['id']}",
        json={
            "body": "小组活动时间偏短，建议延长到五分钟",
            "end_s": 9,
            "category_id": categories["教学过程"],
        },
        headers=base.colleague_auth,
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["body"], body["start_s"], body["end_s"]) == ("小组活动时间偏短，建议延长到五分钟", 4, 9)
    assert body["category_name"] == "教学过程" and body["edited_at"] is not None
    async with context.sessionmaker() as session:
        revisions = (
            await session.scalars(select(Revision).where(Revision.object_id == uuid.UUID(comment["id"])))
        ).all()
    assert [(revision.object_type, revision.body) for revision in revisions] == [
        ("comment", "小组活动时间偏短")
    ]
    assert [revision.editor_id for revision in revisions] == [base.colleague.id]

    for payload in ({"end_s": 2}, {"start_s": LESSON_SECONDS + 1}, {"start_s": None}, {"body": None}):
        bad = await client.patch(
            f"/api/v1/comments/{comment['id']}", json=payload, headers=base.colleague_auth
        )
        assert bad.status_code == 422, (payload, bad.text)
    removed_range = await client.patch(
        f"/api/v1/comments/{comment['id']}",
        json={"end_s": None, "category_id": None},
        headers=base.colleague_auth,
    )
    assert removed_range.json()["end_s"] is None and removed_range.json()["category_id"] is None
    # Not even the lesson's teacher puts words in a colleague's mouth.
    for auth in (base.teacher_auth, world.lead_auth, world.second_auth):
        other = await client.patch(f"/api/v1/comments/{comment['id']}", json={"body": "改"}, headers=auth)
        assert other.status_code == 403
    unknown = await client.patch(
        f"/api/v1/comments/{uuid.uuid4()}", json={"body": "x"}, headers=base.teacher_auth
    )
    assert unknown.status_code == 404

    # Deleting: the author, the lesson's teacher, a moderator; not another colleague.
    by_author = await world.commented(lesson["id"], world.second_auth, start_s=1, body="我删")
    by_owner = await world.commented(lesson["id"], world.second_auth, start_s=2, body="老师删")
    by_lead = await world.commented(lesson["id"], world.second_auth, start_s=3, body="教研员删")
    assert (
        await client.delete(f"/api/v1/comments/{by_author['id']}", headers=base.colleague_auth)
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/comments/{by_author['id']}", headers=world.second_auth)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/comments/{by_owner['id']}", headers=base.teacher_auth)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/comments/{by_lead['id']}", headers=world.lead_auth)
    ).status_code == 204
    gone = await client.delete(f"/api/v1/comments/{by_lead['id']}", headers=world.lead_auth)
    assert gone.status_code == 404

    # A deleted comment with replies keeps its place without its words; without replies it goes.
    reply = await world.commented(lesson["id"], base.teacher_auth, parent_id=comment["id"], body="好的")
    assert (
        await client.delete(f"/api/v1/comments/{comment['id']}", headers=base.colleague_auth)
    ).status_code == 204
    timeline = await world.timeline(lesson["id"])
    (kept,) = timeline["comments"]
    assert (kept["id"], kept["deleted"], kept["body"], kept["body_html"]) == (comment["id"], True, "", "")
    assert [item["id"] for item in kept["replies"]] == [reply["id"]]
    assert timeline["carried_over"] == []
    assert (
        await client.delete(f"/api/v1/comments/{reply['id']}", headers=base.teacher_auth)
    ).status_code == 204
    assert (await world.timeline(lesson["id"]))["comments"] == []


async def test_resolving_belongs_to_the_teacher_and_the_author_and_reopens_carry_over(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    lesson = await world.lesson()
    by_colleague = await world.commented(lesson["id"], base.colleague_auth, start_s=1, body="一")
    by_outsider = await world.commented(lesson["id"], base.outsider_auth, start_s=2, body="二")
    reply = await world.commented(lesson["id"], world.second_auth, parent_id=by_colleague["id"], body="同意")

    assert (
        await client.post(f"/api/v1/comments/{by_colleague['id']}/resolve", headers=world.second_auth)
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/comments/{reply['id']}/resolve", headers=base.teacher_auth)
    ).status_code == 409
    author = await client.post(f"/api/v1/comments/{by_outsider['id']}/resolve", headers=base.outsider_auth)
    assert author.status_code == 200 and author.json()["resolved_by_id"] == str(base.outsider.id)
    again = await client.post(f"/api/v1/comments/{by_outsider['id']}/resolve", headers=base.teacher_auth)
    assert again.status_code == 200 and again.json()["resolved_by_id"] == str(base.outsider.id)
    teacher = await client.post(f"/api/v1/comments/{by_colleague['id']}/resolve", headers=base.teacher_auth)
    assert teacher.status_code == 200 and teacher.json()["resolved"] is True

    await world.new_round(lesson["id"])
    assert (await world.timeline(lesson["id"]))["carried_over"] == []
    reopened = await client.post(
        f"/api/v1/comments/{by_colleague['id']}/unresolve", headers=base.teacher_auth
    )
    assert reopened.status_code == 200 and reopened.json()["resolved"] is False
    assert reopened.json()["resolved_at"] is None and reopened.json()["resolved_by_id"] is None
    carried = (await world.timeline(lesson["id"]))["carried_over"]
    assert [(item["id"], item["version"]) for item in carried] == [(by_colleague["id"], 1)]
    assert [item["id"] for item in carried[0]["replies"]] == [reply["id"]]
    # A reply notifies the comment's author, and the teacher as a comment on the lesson.
    colleague_inbox = await world.inbox(base.colleague_auth)
    assert [item["kind"] for item in colleague_inbox["items"]] == ["reply"]
    teacher_kinds = [item["kind"] for item in (await world.inbox(base.teacher_auth))["items"]]
    assert teacher_kinds == ["lesson_comment"] * 3


async def test_replies_reach_only_reviewers_who_can_still_see_the_lesson(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    lesson = await world.lesson()  # district-wide: the other school reviews it too
    from_outside = await world.commented(lesson["id"], base.outsider_auth, start_s=1, body="外校的意见")
    from_inside = await world.commented(lesson["id"], world.second_auth, start_s=2, body="本校的意见")

    # The teacher keeps the lesson inside the school; the other school no longer sees it.
    narrowed = await client.patch(
        f"/api/v1/resources/{lesson['id']}", json={"visibility": "school"}, headers=base.teacher_auth
    )
    assert narrowed.status_code == 200, narrowed.text
    for comment in (from_outside, from_inside):
        await world.commented(lesson["id"], base.teacher_auth, parent_id=comment["id"], body="谢谢")

    assert (await world.inbox(base.outsider_auth))["items"] == []
    assert [
        (item["kind"], item["subject"]["parent_id"])
        for item in (await world.inbox(world.second_auth))["items"]
    ] == [("reply", from_inside["id"])]


async def test_a_comments_history_is_read_by_those_who_read_the_comment(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    base = world.base
    lesson = await world.lesson(visibility="school")
    categories = await world.categories()
    comment = await world.commented(
        lesson["id"], base.colleague_auth, start_s=4, category_id=categories["学生活动"], body="活动偏短"
    )
    url = f"/api/v1/comments/{comment['id']}"
    for changes in (
        {"body": "小组活动偏短", "end_s": 9, "category_id": categories["教学过程"]},
        {"start_s": 5},
        {"start_s": 5, "body": "小组活动偏短"},  # nothing changes: no revision
    ):
        edited = await client.patch(url, json=changes, headers=base.colleague_auth)
        assert edited.status_code == 200, edited.text

    for auth in (base.colleague_auth, base.teacher_auth, world.second_auth, world.lead_auth):
        history = await client.get(f"{url}/history", headers=auth)
        assert history.status_code == 200, history.text
        assert [(item["body"], item["previous_fields"]) for item in history.json()] == [
            ("小组活动偏短", {"start_s": 4}),
            ("活动偏短", {"end_s": None, "category_id": categories["学生活动"]}),
        ]
        assert {item["editor_id"] for item in history.json()} == {str(base.colleague.id)}

    # Like the timeline: not for students, not for guests, invisible to the other school.
    assert (await client.get(f"{url}/history", headers=base.student_auth)).status_code == 403
    assert (await client.get(f"{url}/history")).status_code == 401
    assert (await client.get(f"{url}/history", headers=base.outsider_auth)).status_code == 404
    unknown = await client.get(f"/api/v1/comments/{uuid.uuid4()}/history", headers=base.teacher_auth)
    assert unknown.status_code == 404
    assert (await client.delete(url, headers=base.colleague_auth)).status_code == 204
    assert (await client.get(f"{url}/history", headers=base.teacher_auth)).status_code == 404
