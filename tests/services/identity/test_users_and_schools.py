from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest

from services.context import AppContext
from storage.models.identity import Role, School, User
from tests.factories import make_resource, make_school, make_topic, make_user, token_for

pytestmark = pytest.mark.anyio


@dataclass
class District:
    school_a: School
    school_b: School
    district_admin: User
    admin_a: User
    teacher_a: User
    student_a: User
    teacher_b: User
    research_lead: User


async def district(context: AppContext) -> District:
    async with context.sessionmaker() as session, session.begin():
        a, b = await make_school(session), await make_school(session)
        return District(
            school_a=a,
            school_b=b,
            district_admin=await make_user(session, Role.district_admin),
            admin_a=await make_user(session, Role.school_admin, a),
            teacher_a=await make_user(session, Role.teacher, a),
            student_a=await make_user(session, Role.student, a),
            teacher_b=await make_user(session, Role.teacher, b),
            research_lead=await make_user(session, Role.research_lead),
        )


async def test_district_admin_manages_schools(client: httpx.AsyncClient, context: AppContext) -> None:
    d = await district(context)
    auth = await token_for(client, d.district_admin)
    created = await client.post(
        "/api/v1/schools", json={"name": "郑州市金水区实验小学", "code": "JS-001"}, headers=auth
    )
    assert created.status_code == 201, created.text
    school_id = created.json()["id"]
    duplicate = await client.post("/api/v1/schools", json={"name": "郑州市金水区实验小学"}, headers=auth)
    assert duplicate.status_code == 409
    renamed = await client.patch(f"/api/v1/schools/{school_id}", json={"stages": "小学,初中"}, headers=auth)
    assert renamed.json()["stages"] == "小学,初中"
    listing = await client.get("/api/v1/schools?limit=100", headers=auth)
    assert listing.json()["total"] == 3
    # A school with users cannot be deleted; an empty one can.
    assert (await client.delete(f"/api/v1/schools/{d.school_a.id}", headers=auth)).status_code == 409
    assert (await client.delete(f"/api/v1/schools/{school_id}", headers=auth)).status_code == 204
    assert (await client.get(f"/api/v1/schools/{school_id}", headers=auth)).status_code == 404


async def test_only_district_admins_change_schools(client: httpx.AsyncClient, context: AppContext) -> None:
    d = await district(context)
    for user in (d.admin_a, d.teacher_a, d.student_a, d.research_lead):
        auth = await token_for(client, user)
        response = await client.post("/api/v1/schools", json={"name": "新学校"}, headers=auth)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        # Everyone signed in may see the list of schools (to pick one in filters).
        assert (await client.get("/api/v1/schools", headers=auth)).status_code == 200


async def test_school_admin_works_only_inside_their_school(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    d = await district(context)
    auth = await token_for(client, d.admin_a)
    listing = await client.get("/api/v1/users?limit=200", headers=auth)
    assert {user["school_id"] for user in listing.json()["items"]} == {str(d.school_a.id)}
    assert listing.json()["total"] == 3
    # Asking for another school's users just yields nothing.
    other = await client.get(f"/api/v1/users?school_id={d.school_b.id}", headers=auth)
    assert other.json()["total"] == 0

    created = await client.post(
        "/api/v1/users",
        json={
            "username": "new.student",
            "display_name": "新同学",
            "password": "student-pass",
            "role": "student",
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    assert created.json()["school_id"] == str(d.school_a.id)

    elsewhere = await client.post(
        "/api/v1/users",
        json={
            "username": "spy",
            "display_name": "x",
            "password": "student-pass",
            "role": "teacher",
            "school_id": str(d.school_b.id),
        },
        headers=auth,
    )
    assert elsewhere.status_code == 403
    promoted = await client.post(
        "/api/v1/users",
        json={"username": "boss", "display_name": "x", "password": "student-pass", "role": "district_admin"},
        headers=auth,
    )
    assert promoted.status_code == 403
    escalate = await client.patch(
        f"/api/v1/users/{d.teacher_a.id}", json={"role": "research_lead", "school_id": None}, headers=auth
    )
    assert escalate.status_code == 403


async def test_idor_other_schools_ids_are_404(client: httpx.AsyncClient, context: AppContext) -> None:
    d = await district(context)
    auth = await token_for(client, d.admin_a)
    for target in (d.teacher_b.id, d.research_lead.id, d.district_admin.id, uuid.uuid4()):
        for response in (
            await client.get(f"/api/v1/users/{target}", headers=auth),
            await client.patch(f"/api/v1/users/{target}", json={"display_name": "hacked"}, headers=auth),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["error"] == {
                "code": "not_found",
                "message": "User not found",
                "details": None,
            }
    teacher_auth = await token_for(client, d.teacher_a)
    for target in (d.student_a.id, d.teacher_b.id):
        assert (await client.get(f"/api/v1/users/{target}", headers=teacher_auth)).status_code == 404
    assert (await client.get("/api/v1/users", headers=teacher_auth)).status_code == 403


async def test_users_see_and_rename_themselves_only(client: httpx.AsyncClient, context: AppContext) -> None:
    d = await district(context)
    auth = await token_for(client, d.student_a)
    assert (await client.get(f"/api/v1/users/{d.student_a.id}", headers=auth)).status_code == 200
    renamed = await client.patch(
        f"/api/v1/users/{d.student_a.id}", json={"display_name": "小明"}, headers=auth
    )
    assert renamed.status_code == 200
    assert renamed.json()["display_name"] == "小明"
    promote = await client.patch(f"/api/v1/users/{d.student_a.id}", json={"role": "teacher"}, headers=auth)
    assert promote.status_code == 403


async def test_user_placement_rules(client: httpx.AsyncClient, context: AppContext) -> None:
    d = await district(context)
    auth = await token_for(client, d.district_admin)
    base = {"display_name": "某某", "password": "long-enough"}
    schoolless_teacher = await client.post(
        "/api/v1/users", json={**base, "username": "teacher1", "role": "teacher"}, headers=auth
    )
    assert schoolless_teacher.status_code == 422
    assert "must belong to a school" in schoolless_teacher.json()["error"]["message"]
    lead_with_school = await client.post(
        "/api/v1/users",
        json={**base, "username": "lead1", "role": "research_lead", "school_id": str(d.school_a.id)},
        headers=auth,
    )
    assert lead_with_school.status_code == 422
    assert "has no school" in lead_with_school.json()["error"]["message"]
    unknown_school = await client.post(
        "/api/v1/users",
        json={**base, "username": "teacher2", "role": "teacher", "school_id": str(uuid.uuid4())},
        headers=auth,
    )
    assert unknown_school.status_code == 404
    bad_name = await client.post(
        "/api/v1/users", json={**base, "username": "../etc", "role": "research_lead"}, headers=auth
    )
    assert bad_name.status_code == 422
    taken = await client.post(
        "/api/v1/users",
        json={**base, "username": d.teacher_a.username.upper(), "role": "research_lead"},
        headers=auth,
    )
    assert taken.status_code == 409


async def test_explicit_null_for_a_required_field_is_422(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    d = await district(context)
    auth = await token_for(client, d.district_admin)
    for field in ("display_name", "is_active", "role", "password"):
        response = await client.patch(f"/api/v1/users/{d.teacher_a.id}", json={field: None}, headers=auth)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"]["details"][0]["loc"] == ["body", field]
    for field in ("name", "stages"):
        response = await client.patch(f"/api/v1/schools/{d.school_a.id}", json={field: None}, headers=auth)
        assert response.status_code == 422, (field, response.text)
    # Fields that may be empty still take null: a school without a code, a user without a school.
    assert (await client.patch(f"/api/v1/schools/{d.school_a.id}", json={"code": None}, headers=auth)).json()[
        "code"
    ] is None
    moved = await client.patch(
        f"/api/v1/users/{d.teacher_b.id}", json={"role": "research_lead", "school_id": None}, headers=auth
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["school_id"] is None
    # The schema says so too: a client generated from it never sends null there.
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert "anyOf" not in schema["UserUpdate"]["properties"]["display_name"]
    assert {"type": "null"} in schema["UserUpdate"]["properties"]["school_id"]["anyOf"]


async def test_a_school_still_owning_resources_or_topics_is_409(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        admin = await make_user(session, Role.district_admin)
        lead = await make_user(session, Role.research_lead)
        with_resource, with_topic, empty = [await make_school(session) for _ in range(3)]
        # Owned by people of no school, so only the resource or topic ties them to the school.
        await make_resource(session, lead, school_id=with_resource.id)
        await make_topic(session, lead, school_id=with_topic.id)
    auth = await token_for(client, admin)
    for school, kind in ((with_resource, "resources"), (with_topic, "topics")):
        response = await client.delete(f"/api/v1/schools/{school.id}", headers=auth)
        assert response.status_code == 409, response.text
        assert kind in response.json()["error"]["message"]
    assert (await client.delete(f"/api/v1/schools/{empty.id}", headers=auth)).status_code == 204


async def test_school_admins_keep_their_own_schools_entry_up_to_date(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    d = await district(context)
    auth = await token_for(client, d.admin_a)
    renamed = await client.patch(
        f"/api/v1/schools/{d.school_a.id}",
        json={"name": "金水区实验小学", "stages": "小学,初中"},
        headers=auth,
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["stages"]) == ("金水区实验小学", "小学,初中")
    # The code is the district's registry number; other schools, creating and deleting are the district's.
    refused = [
        await client.patch(f"/api/v1/schools/{d.school_a.id}", json={"code": "X-1"}, headers=auth),
        await client.patch(f"/api/v1/schools/{d.school_b.id}", json={"name": "改名"}, headers=auth),
        await client.delete(f"/api/v1/schools/{d.school_a.id}", headers=auth),
        await client.patch(
            f"/api/v1/schools/{d.school_a.id}",
            json={"name": "改名"},
            headers=await token_for(client, d.teacher_a),
        ),
    ]
    assert [response.status_code for response in refused] == [403] * 4


async def test_administrators_do_not_change_their_own_standing(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    d = await district(context)
    for admin in (d.district_admin, d.admin_a):
        auth = await token_for(client, admin)
        for change in ({"role": "teacher"}, {"is_active": False}, {"password": "set-without-the-old-one"}):
            response = await client.patch(f"/api/v1/users/{admin.id}", json=change, headers=auth)
            assert response.status_code == 403, (admin.role, change, response.text)
        renamed = await client.patch(
            f"/api/v1/users/{admin.id}", json={"display_name": "管理员"}, headers=auth
        )
        assert renamed.status_code == 200
