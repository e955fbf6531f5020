"""Share links: signed, expiring, revocable grants to view one object."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.context import AppContext
from services.identity import service
from storage.database import utcnow
from storage.models.identity import PublicationStatus, Role, ShareLink, Visibility
from tests.factories import make_school, make_user, token_for

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Lesson:
    owner_id: uuid.UUID
    school_id: uuid.UUID | None
    visibility: Visibility
    status: PublicationStatus


LESSONS: dict[uuid.UUID, Lesson] = {}


async def load_lesson(_: AsyncSession, object_id: uuid.UUID) -> Lesson | None:
    return LESSONS.get(object_id)


@pytest.fixture(autouse=True)
def shareable_lessons() -> Iterator[None]:
    service.SHAREABLE["test_lesson"] = load_lesson
    yield
    service.SHAREABLE.pop("test_lesson", None)
    LESSONS.clear()


async def test_owner_shares_a_private_lesson_and_revokes_it(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        school = await make_school(session)
        owner = await make_user(session, Role.teacher, school)
        colleague = await make_user(session, Role.teacher, school)
    lesson_id = uuid.uuid4()
    LESSONS[lesson_id] = Lesson(owner.id, school.id, Visibility.private, PublicationStatus.draft)
    auth = await token_for(client, owner)

    denied = await client.post(
        "/api/v1/share-links",
        json={"object_type": "test_lesson", "object_id": str(lesson_id)},
        headers=await token_for(client, colleague),
    )
    assert denied.status_code == 404  # a colleague cannot even see a private draft

    created = await client.post(
        "/api/v1/share-links",
        json={"object_type": "test_lesson", "object_id": str(lesson_id), "expires_in_hours": 2},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    link = created.json()
    # A guest, without any token, resolves the link.
    resolved = await client.get(f"/api/v1/share-links/{link['token']}")
    assert resolved.status_code == 200
    assert resolved.json()["object_id"] == str(lesson_id)
    assert resolved.json()["token"] is None

    tampered = link["token"][:-2] + ("AA" if not link["token"].endswith("AA") else "BB")
    assert (await client.get(f"/api/v1/share-links/{tampered}")).status_code == 404
    assert (await client.get(f"/api/v1/share-links/{uuid.uuid4().hex}.abc")).status_code == 404

    assert (await client.delete(f"/api/v1/share-links/{link['id']}", headers=auth)).status_code == 204
    assert (await client.get(f"/api/v1/share-links/{link['token']}")).status_code == 404


async def test_expired_links_stop_working(client: httpx.AsyncClient, context: AppContext) -> None:
    async with context.sessionmaker() as session, session.begin():
        owner = await make_user(session, Role.research_lead)
    lesson_id = uuid.uuid4()
    LESSONS[lesson_id] = Lesson(owner.id, None, Visibility.district, PublicationStatus.published)
    created = await client.post(
        "/api/v1/share-links",
        json={"object_type": "test_lesson", "object_id": str(lesson_id)},
        headers=await token_for(client, owner),
    )
    token = created.json()["token"]
    assert (await client.get(f"/api/v1/share-links/{token}")).status_code == 200
    async with context.sessionmaker() as session, session.begin():
        await session.execute(update(ShareLink).values(expires_at=utcnow()))
    assert (await client.get(f"/api/v1/share-links/{token}")).status_code == 404


async def test_unknown_object_types_are_rejected(client: httpx.AsyncClient, context: AppContext) -> None:
    async with context.sessionmaker() as session, session.begin():
        owner = await make_user(session, Role.district_admin)
    response = await client.post(
        "/api/v1/share-links",
        json={"object_type": "nuclear_codes", "object_id": str(uuid.uuid4())},
        headers=await token_for(client, owner),
    )
    assert response.status_code == 422


async def test_a_link_is_revoked_by_its_creator_or_whoever_may_change_what_it_shares(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        school, other_school = await make_school(session), await make_school(session)
        owner = await make_user(session, Role.teacher, school)
        admin = await make_user(session, Role.school_admin, school)
        colleague = await make_user(session, Role.teacher, school)
        stranger = await make_user(session, Role.school_admin, other_school)
    lesson_id = uuid.uuid4()
    LESSONS[lesson_id] = Lesson(owner.id, school.id, Visibility.school, PublicationStatus.published)
    owner_auth = await token_for(client, owner)

    async def share() -> str:
        body = {"object_type": "test_lesson", "object_id": str(lesson_id)}
        response = await client.post("/api/v1/share-links", json=body, headers=owner_auth)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    link_id = await share()
    # A colleague who can read the lesson but not change it, and another school's admin: 404 alike.
    for outsider in (colleague, stranger):
        response = await client.delete(
            f"/api/v1/share-links/{link_id}", headers=await token_for(client, outsider)
        )
        assert response.status_code == 404, response.text
    admin_auth = await token_for(client, admin)
    assert (await client.delete(f"/api/v1/share-links/{link_id}", headers=admin_auth)).status_code == 204
    assert (
        await client.delete(f"/api/v1/share-links/{await share()}", headers=owner_auth)
    ).status_code == 204
