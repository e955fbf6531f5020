"""Approval before district-wide publishing, through the API on both stacks."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.context import AppContext
from tests.services.review.world import review_world

pytestmark = pytest.mark.anyio


async def test_district_publishing_waits_for_a_lead_of_its_subject(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    resource = await world.created(title="树和喜鹊 审核课", visibility="district", subject="语文")
    # Shown to its school meanwhile, never beyond.
    assert resource["visibility"] == "school"
    assert await world.can_open(resource["id"], "colleague")
    assert not await world.can_open(resource["id"], "outsider")
    assert not await world.can_open(resource["id"], "outside_student")
    assert not await world.can_open(resource["id"], None)

    request = await world.review_of(resource["id"])
    assert request is not None
    assert (request["state"], request["requested_visibility"], request["effective_visibility"]) == (
        "pending",
        "district",
        "school",
    )
    assert [event["action"] for event in request["events"]] == ["submitted"]
    # Nobody else learns that it waits.
    assert await world.review_of(resource["id"], "colleague") is None

    # The 语文 lead has it in their queue; the 数学 lead neither sees nor decides it.
    assert [item["subject_id"] for item in await world.queue("chinese_lead")] == [resource["id"]]
    assert await world.queue("math_lead") == []
    assert (await world.decide(request["id"], "approve", "math_lead")).status_code == 404
    assert (await world.get(f"/api/v1/review/requests/{request['id']}", "math_lead")).status_code == 404
    # Its owner cannot approve their own request; teachers and students have no queue.
    assert (await world.decide(request["id"], "approve", "teacher")).status_code == 403
    assert (await world.get("/api/v1/review/queue", "teacher")).status_code == 403
    assert (await world.get("/api/v1/review/queue/count", "chinese_lead")).json() == {"pending": 1}
    assert (await world.get("/api/v1/review/queue/count", "teacher")).json() == {"pending": 0}

    decided = await world.decide(request["id"], "approve", "chinese_lead")
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "approved"
    assert await world.can_open(resource["id"], "outsider")
    assert await world.can_open(resource["id"], "outside_student")
    assert not await world.can_open(resource["id"], None)  # district, not public
    assert (await world.get(f"/api/v1/resources/{resource['id']}", "teacher")).json()[
        "visibility"
    ] == "district"
    assert (await world.get("/api/v1/review/queue/count", "chinese_lead")).json() == {"pending": 0}

    inbox = (await world.get("/api/v1/notifications", "teacher")).json()["items"]
    assert any("通过了" in item["text"] and "树和喜鹊 审核课" in item["text"] for item in inbox)
    # Approving it again: it is not pending any more.
    assert (await world.decide(request["id"], "approve", "chinese_lead")).status_code == 409


async def test_rejection_with_a_reason_reaches_the_owner_who_resubmits(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    resource = await world.created(title="认识钟表", visibility="public", subject="数学", grade=1)
    request = await world.review_of(resource["id"])
    assert request is not None and request["requested_visibility"] == "public"

    assert (await world.decide(request["id"], "reject", "math_lead")).status_code == 422
    assert (await world.decide(request["id"], "reject", "math_lead", "   ")).status_code == 422
    rejected = await world.decide(request["id"], "reject", "math_lead", "教学目标不清楚，请补充")
    assert rejected.status_code == 200, rejected.text
    assert not await world.can_open(resource["id"], "outsider")

    seen = await world.review_of(resource["id"])
    assert seen is not None
    assert (seen["state"], seen["reason"], seen["can_resubmit"]) == (
        "rejected",
        "教学目标不清楚，请补充",
        True,
    )
    inbox = (await world.get("/api/v1/notifications", "teacher")).json()["items"]
    assert any("未通过" in item["text"] and "教学目标不清楚" in item["text"] for item in inbox)
    assert await world.queue("math_lead") == []

    # Only its owner resubmits; then it is back in the queue.
    assert (
        await world.post(f"/api/v1/review/requests/{request['id']}/resubmit", "colleague")
    ).status_code == 404
    assert (
        await world.post(f"/api/v1/review/requests/{request['id']}/resubmit", "math_lead")
    ).status_code == 403
    again = await world.post(
        f"/api/v1/review/requests/{request['id']}/resubmit", "teacher", {"note": "已补充"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "pending"
    assert (
        await world.post(f"/api/v1/review/requests/{request['id']}/resubmit", "teacher")
    ).status_code == 409
    assert [item["id"] for item in await world.queue("math_lead")] == [request["id"]]

    returned = await world.decide(request["id"], "return", "admin", "请补充课后练习")
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    await world.post(f"/api/v1/review/requests/{request['id']}/resubmit", "teacher")
    assert (await world.decide(request["id"], "approve", "admin")).status_code == 200
    assert await world.can_open(resource["id"], None)  # public now, guests too
    trail = [event["action"] for event in (await world.review_of(resource["id"]))["events"]]  # type: ignore[index]
    assert trail == ["submitted", "rejected", "resubmitted", "returned", "resubmitted", "approved"]


async def test_bad_input_and_unknown_ids(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await review_world(client, context)
    unknown = uuid.uuid4()
    assert (await world.decide(str(unknown), "approve", "admin")).status_code == 404
    assert (await world.decide(str(unknown), "reject", "admin", "不行")).status_code == 404
    assert (await world.get(f"/api/v1/review/requests/{unknown}", "admin")).status_code == 404
    assert (await world.get("/api/v1/review/requests/not-an-id", "admin")).status_code == 422
    long_reason = await world.decide(str(unknown), "reject", "admin", "太长" * 2000)
    assert long_reason.status_code == 422
    assert long_reason.json()["error"]["code"] == "invalid_payload"
    # Leads: only research leads, only by district admins, once per subject and stage.
    teacher_id = world.teacher.id
    made = await world.post("/api/v1/review/leads", "admin", {"user_id": str(teacher_id), "subject": "语文"})
    assert made.status_code == 409
    assert (
        await world.post(
            "/api/v1/review/leads", "chinese_lead", {"user_id": str(teacher_id), "subject": "语文"}
        )
    ).status_code == 403
    leads = (await world.get("/api/v1/review/leads", "admin")).json()
    assert sorted(lead["subject"] for lead in leads) == ["数学", "语文"]
    duplicate = await world.post(
        "/api/v1/review/leads", "admin", {"user_id": leads[0]["user_id"], "subject": leads[0]["subject"]}
    )
    assert duplicate.status_code == 409


async def test_district_admins_publish_without_review(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await review_world(client, context)
    resource = await world.created("admin", title="区级示范课", visibility="district", subject="语文")
    assert resource["visibility"] == "district"
    assert await world.review_of(resource["id"], "admin") is None
    assert await world.can_open(resource["id"], "outsider")

    # A teacher's draft published later waits too; a district admin's edit of it leaves it waiting,
    # their choosing the visibility decides it.
    draft = await world.created(title="草稿 待发布", visibility="district", status="draft", subject="语文")
    assert await world.review_of(draft["id"]) is None
    published = await world.patch(f"/api/v1/resources/{draft['id']}", "teacher", {"status": "published"})
    assert published.json()["visibility"] == "school"
    fixed = await world.patch(f"/api/v1/resources/{draft['id']}", "admin", {"tags": ["改错字"]})
    assert fixed.status_code == 200, fixed.text
    assert (await world.review_of(draft["id"]))["state"] == "pending"  # type: ignore[index]
    granted = await world.patch(f"/api/v1/resources/{draft['id']}", "admin", {"visibility": "district"})
    assert granted.json()["visibility"] == "district"
    assert (await world.review_of(draft["id"]))["state"] == "withdrawn"  # type: ignore[index]


async def test_widening_later_waits_and_narrowing_withdraws(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    resource = await world.created(title="小蝌蚪找妈妈", visibility="school", subject="语文")
    assert resource["visibility"] == "school" and await world.review_of(resource["id"]) is None

    widened = await world.patch(f"/api/v1/resources/{resource['id']}", "teacher", {"visibility": "district"})
    assert widened.status_code == 200 and widened.json()["visibility"] == "school"
    assert not await world.can_open(resource["id"], "outsider")
    # Small metadata edits leave the request waiting.
    tagged = await world.patch(f"/api/v1/resources/{resource['id']}", "teacher", {"tags": ["朗读"]})
    assert tagged.status_code == 200
    assert (await world.review_of(resource["id"]))["state"] == "pending"  # type: ignore[index]

    narrowed = await world.patch(f"/api/v1/resources/{resource['id']}", "teacher", {"visibility": "school"})
    assert narrowed.status_code == 200
    request = await world.review_of(resource["id"])
    assert request is not None and request["state"] == "withdrawn"
    assert await world.queue("chinese_lead") == []
    assert (await world.decide(request["id"], "approve", "chinese_lead")).status_code == 409

    # A private resource widened stays its owner's; its reviewer still opens it to decide.
    private = await world.created(title="私人教案", visibility="private", subject="语文")
    await world.patch(f"/api/v1/resources/{private['id']}", "teacher", {"visibility": "public"})
    assert not await world.can_open(private["id"], "colleague")
    assert await world.can_open(private["id"], "chinese_lead")
    assert not await world.can_open(private["id"], "math_lead")
    # Deleting a resource withdraws what waited.
    assert (
        await client.delete(f"/api/v1/resources/{private['id']}", headers=world.auth["teacher"])
    ).status_code == 204
    assert await world.queue("chinese_lead") == []


async def test_school_review_setting_has_the_school_admin_review(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    path = f"/api/v1/review/schools/{world.school.id}"
    assert (
        await world.client.put(path, json={"review_required": True}, headers=world.auth["teacher"])
    ).status_code == 403
    assert (
        await world.client.put(path, json={"review_required": True}, headers=world.auth["outsider"])
    ).status_code == 403
    turned = await world.client.put(path, json={"review_required": True}, headers=world.auth["school_admin"])
    assert turned.status_code == 200 and turned.json()["review_required"] is True

    resource = await world.created(title="校内公开课", visibility="school", subject="语文")
    assert resource["visibility"] == "private"
    assert not await world.can_open(resource["id"], "colleague")
    assert await world.can_open(resource["id"], "school_admin")
    # The school's admin reviews it, not the subject's research lead nor another school.
    assert await world.queue("chinese_lead") == []
    (item,) = await world.queue("school_admin")
    assert (await world.decide(item["id"], "approve", "chinese_lead")).status_code == 404
    assert (await world.decide(item["id"], "approve", "school_admin")).status_code == 200
    assert await world.can_open(resource["id"], "colleague")

    # The school's admin publishes to their school without review.
    own = await world.created("school_admin", title="校长讲话", visibility="school", subject="语文")
    assert own["visibility"] == "school"

    # District publishing from such a school: private until a district reviewer approves.
    wide = await world.created(title="区级展示课", visibility="district", subject="语文")
    assert wide["visibility"] == "private"
    assert [entry["subject_id"] for entry in await world.queue("chinese_lead")] == [wide["id"]]


async def test_new_rounds_and_main_files_of_an_approved_resource_go_back_to_review(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    from tests.factories import upload_form
    from tests.services.review.world import PDF

    world = await review_world(client, context)
    resource = await world.created(title="荷叶圆圆", visibility="district", subject="语文")
    request = await world.review_of(resource["id"])
    await world.decide(request["id"], "approve", "chinese_lead")  # type: ignore[index]
    assert await world.can_open(resource["id"], "outsider")

    round_two = await client.post(
        f"/api/v1/resources/{resource['id']}/versions",
        files=upload_form({"note": "第二次试课"}, "第二版.pdf", PDF),
        headers=world.auth["teacher"],
    )
    assert round_two.status_code == 201, round_two.text
    # Back to its school until the new round is approved.
    assert not await world.can_open(resource["id"], "outsider")
    again = await world.review_of(resource["id"])
    assert again is not None and (again["state"], again["cause"]) == ("pending", "round")
    assert again["id"] != request["id"]  # type: ignore[index]
    await world.decide(again["id"], "approve", "chinese_lead")
    assert await world.can_open(resource["id"], "outsider")

    # Title edits do not, unless the district says so (JIAOYUN_REVIEW_ON_EDIT, off by default).
    retitled = await world.patch(f"/api/v1/resources/{resource['id']}", "teacher", {"title": "荷叶圆圆 改"})
    assert retitled.json()["visibility"] == "district"
    context.settings.review_on_edit = True
    tagged = await world.patch(
        f"/api/v1/resources/{resource['id']}", "teacher", {"tags": ["识字"], "grade": 1}
    )
    assert tagged.json()["visibility"] == "district"
    retitled = await world.patch(
        f"/api/v1/resources/{resource['id']}", "teacher", {"description": "新的说明"}
    )
    assert retitled.json()["visibility"] == "school"
    third = await world.review_of(resource["id"])
    assert third is not None and (third["state"], third["cause"]) == ("pending", "edit")


async def test_queue_filters_and_review_statistics(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await review_world(client, context)
    poem = await world.created(title="静夜思 古诗", visibility="district", subject="语文", grade=1)
    essay = await world.created(title="我的妈妈 习作", visibility="district", subject="语文", grade=3)
    video = await world.created(
        "outsider",
        title="静夜思 朗读",
        visibility="district",
        subject="语文",
        grade=1,
        resource_type="lesson_plan",
    )

    async def ids(**params: str) -> list[str]:
        return [item["subject_id"] for item in await world.queue("chinese_lead", **params)]

    assert await ids() == [poem["id"], essay["id"], video["id"]]  # oldest first
    assert await ids(q="静夜思") == [poem["id"], video["id"]]
    assert await ids(q="%") == []  # typed wildcards are plain characters
    assert await ids(school_id=str(world.other_school.id)) == [video["id"]]
    assert await ids(kind="lesson_plan") == [video["id"]]
    assert await ids(stage="小学", subject="语文") == [poem["id"], essay["id"], video["id"]]
    assert await ids(subject="数学") == []
    # A lead of one stage only sees that stage's requests.
    lead = world.people["math_lead"]
    response = await world.post(
        "/api/v1/review/leads", "admin", {"user_id": str(lead.id), "subject": "语文", "stage": "初中"}
    )
    assert response.status_code == 201
    assert await world.queue("math_lead") == []

    requests = {item["subject_id"]: item["id"] for item in await world.queue("admin")}
    await world.decide(requests[poem["id"]], "approve", "chinese_lead")
    await world.decide(requests[essay["id"]], "reject", "chinese_lead", "错别字较多")
    await world.decide(requests[video["id"]], "return", "admin", "请补充朗读音频")
    await world.post(f"/api/v1/review/requests/{requests[video['id']]}/resubmit", "outsider")

    stats = await world.get("/api/v1/review/stats", "admin")
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert {key: body["totals"][key] for key in ("submissions", "approvals", "rejections", "returns")} == {
        "submissions": 4,
        "approvals": 1,
        "rejections": 1,
        "returns": 1,
    }
    assert body["totals"]["median_review_s"] is not None and body["totals"]["median_review_s"] >= 0
    by_school = {row["school_id"]: row for row in body["schools"]}
    assert by_school[str(world.school.id)]["submissions"] == 2
    assert by_school[str(world.other_school.id)]["returns"] == 1
    assert [row["subject"] for row in body["subjects"]] == ["语文"]
    # School admins: their school; teachers: none.
    mine = (await world.get("/api/v1/review/stats", "school_admin")).json()
    assert [row["school_id"] for row in mine["schools"]] == [str(world.school.id)]
    assert (await world.get("/api/v1/review/stats", "teacher")).status_code == 403
