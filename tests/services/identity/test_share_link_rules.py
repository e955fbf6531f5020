"""A share link grants no more than its creator may grant when it is used, and never outlives the
owner's decision to show a resource to fewer people; owners see and revoke every link to theirs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from services.context import AppContext
from storage.models.identity import Role, User
from tests import samples
from tests.factories import make_user, token_for
from tests.services.resources.scenario import district, main_file

pytestmark = pytest.mark.anyio


async def _share(client: httpx.AsyncClient, resource_id: str, auth: dict[str, str]) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/share-links", json={"object_type": "resource", "object_id": resource_id}, headers=auth
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _opens(client: httpx.AsyncClient, resource: dict[str, Any], link: dict[str, Any]) -> bool:
    """Whether a guest with the link opens the resource, its file and its page, all alike."""
    params = {"share": link["token"]}
    answers = {
        (await client.get(f"/api/v1/resources/{resource['id']}", params=params)).status_code,
        (await client.get(main_file(resource)["content_url"], params=params)).status_code,
        (await client.get(f"/resources/{resource['id']}", params=params)).status_code,
    }
    assert len(answers) == 1 and answers <= {200, 404}, answers
    return answers == {200}


async def test_links_die_when_the_owner_narrows_visibility_and_owners_list_and_revoke_them(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    async with context.sessionmaker() as session, session.begin():
        school_admin = await make_user(session, Role.school_admin, world.school)
        district_admin = await make_user(session, Role.district_admin)
    admin_auth = await token_for(client, school_admin)
    district_auth = await token_for(client, district_admin)
    lesson = await world.created("教案.pdf", samples.pdf_bytes(["教案"]), resource_type="lesson_plan")

    by_admin = await _share(client, lesson["id"], admin_auth)
    by_district = await _share(client, lesson["id"], district_auth)
    by_owner = await _share(client, lesson["id"], world.teacher_auth)
    assert all([await _opens(client, lesson, link) for link in (by_admin, by_district, by_owner)])

    # The owner sees every live link and who made it; the link itself only for their own.
    listing = {"object_type": "resource", "object_id": lesson["id"]}
    owned = (await client.get("/api/v1/share-links", params=listing, headers=world.teacher_auth)).json()
    assert [item["id"] for item in owned] == [by_owner["id"], by_district["id"], by_admin["id"]]
    assert [item["created_by"]["username"] for item in owned] == [
        world.teacher.username,
        district_admin.username,
        school_admin.username,
    ]
    assert [item["token"] is not None for item in owned] == [True, False, False]
    # Administrators see the links they made, with the link; colleagues none.
    made = (await client.get("/api/v1/share-links", params=listing, headers=admin_auth)).json()
    assert [(item["id"], item["token"]) for item in made] == [(by_admin["id"], by_admin["token"])]
    colleague = await client.get("/api/v1/share-links", params=listing, headers=world.colleague_auth)
    assert colleague.json() == []
    everything_mine = (await client.get("/api/v1/share-links", headers=district_auth)).json()
    assert [item["id"] for item in everything_mine] == [by_district["id"]]

    # The owner makes it private: the administrators' links end, the owner's own stays theirs.
    private = await client.patch(
        f"/api/v1/resources/{lesson['id']}", json={"visibility": "private"}, headers=world.teacher_auth
    )
    assert private.status_code == 200, private.text
    assert not await _opens(client, lesson, by_admin)
    assert not await _opens(client, lesson, by_district)
    assert await _opens(client, lesson, by_owner)
    owned = (await client.get("/api/v1/share-links", params=listing, headers=world.teacher_auth)).json()
    assert [item["id"] for item in owned] == [by_owner["id"]]
    # Nobody but the owner shares a private resource.
    refused = await client.post(
        "/api/v1/share-links", json={"object_type": "resource", "object_id": lesson["id"]}, headers=admin_auth
    )
    assert refused.status_code == 404

    # Widening it again does not bring the ended links back.
    await client.patch(
        f"/api/v1/resources/{lesson['id']}", json={"visibility": "school"}, headers=world.teacher_auth
    )
    assert not await _opens(client, lesson, by_admin)

    # The owner revokes any link, an administrator's too.
    again = await _share(client, lesson["id"], admin_auth)
    assert await _opens(client, lesson, again)
    revoked = await client.delete(f"/api/v1/share-links/{again['id']}", headers=world.teacher_auth)
    assert revoked.status_code == 204
    assert not await _opens(client, lesson, again)


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": Role.teacher}])
async def test_a_link_ends_with_its_creators_right_to_share(
    client: httpx.AsyncClient, context: AppContext, change: dict[str, Any]
) -> None:
    world = await district(client, context)
    async with context.sessionmaker() as session, session.begin():
        school_admin = await make_user(session, Role.school_admin, world.school)
    lesson = await world.created("教案.pdf", samples.pdf_bytes(["教案"]), resource_type="lesson_plan")
    link = await _share(client, lesson["id"], await token_for(client, school_admin))
    assert await _opens(client, lesson, link)

    async with context.sessionmaker() as session, session.begin():
        await session.execute(update(User).where(User.id == school_admin.id).values(**change))

    assert not await _opens(client, lesson, link)


async def test_topics_cannot_be_shared_by_link(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    response = await client.post(
        "/api/v1/share-links",
        json={"object_type": "topic", "object_id": str(world.school.id)},
        headers=world.teacher_auth,
    )
    assert response.status_code == 422
