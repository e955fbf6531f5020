"""The permission matrix again, end to end: real rows, real tokens, real HTTP, on both stacks.

tests/services/test_authz.py holds services.authz to independently written expectations; this file
holds the API to services.authz. For every asker (each role, in school A or B, and a guest) and a
lesson of school A's teacher in every visibility x status, reading, changing, commenting on and
deleting it must answer exactly what authz decides: success when allowed, 404 when the asker may not
read it (so ids of what they cannot see reveal nothing, never a 403), 403 when they may read it but
not do this, 401 for a guest's writes. The listing must hold exactly what they may read.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import httpx
import pytest

from services.authz import Action, Principal, can
from services.context import AppContext
from storage.models.identity import PublicationStatus, Role, User, Visibility
from storage.models.resources import Resource
from tests.factories import make_resource, make_school, make_user, token_for

pytestmark = pytest.mark.anyio

CELLS = list(itertools.product(Visibility, PublicationStatus))


@dataclass
class Asker:
    name: str
    user: User | None  # None: a guest without a token
    headers: dict[str, str]

    @property
    def principal(self) -> Principal | None:
        return Principal.of(self.user) if self.user is not None else None


@dataclass
class World:
    owner: User
    askers: list[Asker]
    # One lesson of the owner per (visibility, status).
    lessons: dict[tuple[Visibility, PublicationStatus], Resource]


async def build_world(client: httpx.AsyncClient, context: AppContext) -> World:
    async with context.sessionmaker() as session, session.begin():
        school_a, school_b = await make_school(session), await make_school(session)
        owner = await make_user(session, Role.teacher, school_a)
        people = {
            "owner": owner,
            "teacher_a": await make_user(session, Role.teacher, school_a),
            "student_a": await make_user(session, Role.student, school_a),
            "school_admin_a": await make_user(session, Role.school_admin, school_a),
            "teacher_b": await make_user(session, Role.teacher, school_b),
            "student_b": await make_user(session, Role.student, school_b),
            "school_admin_b": await make_user(session, Role.school_admin, school_b),
            "research_lead": await make_user(session, Role.research_lead),
            "district_admin": await make_user(session, Role.district_admin),
        }
        lessons = {
            (visibility, status): await make_resource(session, owner, visibility, status)
            for visibility, status in CELLS
        }
    askers = [Asker("guest", None, {})]
    askers += [Asker(name, user, await token_for(client, user)) for name, user in people.items()]
    return World(owner, askers, lessons)


def expected_status(asker: Asker, action: Action, lesson: Resource, success: int) -> int:
    if asker.user is None and action != Action.read:
        return 401  # writes need a token before anything is looked up
    if not can(asker.principal, Action.read, lesson):
        return 404
    return success if can(asker.principal, action, lesson) else 403


async def attempt(client: httpx.AsyncClient, asker: Asker, action: Action, lesson_id: uuid.UUID) -> int:
    url = f"/api/v1/resources/{lesson_id}"
    if action == Action.read:
        response = await client.get(url, headers=asker.headers)
    elif action == Action.update:
        response = await client.patch(url, json={"title": f"改过 {asker.name}"}, headers=asker.headers)
    elif action == Action.comment:
        body = {"start_s": 1.0, "body": f"{asker.name} 的意见"}
        response = await client.post(f"{url}/comments", json=body, headers=asker.headers)
    else:
        response = await client.delete(url, headers=asker.headers)
    return response.status_code


SUCCESS = {Action.read: 200, Action.update: 200, Action.comment: 201, Action.delete: 204}


async def test_every_role_on_every_lesson_over_http(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await build_world(client, context)
    mismatches: list[str] = []

    def check(
        asker: Asker, action: Action, cell: tuple[Visibility, PublicationStatus], lesson: Resource, got: int
    ) -> None:
        want = expected_status(asker, action, lesson, SUCCESS[action])
        if got != want:
            mismatches.append(
                f"{asker.name} {action.value} {cell[0].value}/{cell[1].value}: {got}, want {want}"
            )

    # Reads, changes and comments leave the lessons in place for the next asker.
    for asker, (cell, lesson) in itertools.product(world.askers, world.lessons.items()):
        for action in (Action.read, Action.update, Action.comment):
            check(asker, action, cell, lesson, await attempt(client, asker, action, lesson.id))

    # The listing holds exactly the lessons each asker may read.
    for asker in world.askers:
        response = await client.get("/api/v1/resources", params={"limit": 100}, headers=asker.headers)
        assert response.status_code == 200, (asker.name, response.text)
        listed = {uuid.UUID(item["id"]) for item in response.json()["items"]}
        readable = {
            lesson.id for lesson in world.lessons.values() if can(asker.principal, Action.read, lesson)
        }
        if listed != readable:
            mismatches.append(f"{asker.name} listing: {len(listed)} listed, {len(readable)} readable")

    # Deleting: a lesson of its own per asker and cell, so each successful delete takes only its own.
    async with context.sessionmaker() as session, session.begin():
        doomed = {
            (asker.name, cell): await make_resource(session, world.owner, *cell)
            for asker, cell in itertools.product(world.askers, CELLS)
        }
    for asker, cell in itertools.product(world.askers, CELLS):
        lesson = doomed[(asker.name, cell)]
        check(asker, Action.delete, cell, lesson, await attempt(client, asker, Action.delete, lesson.id))

    assert not mismatches, "\n".join(mismatches)


async def test_other_schools_unseen_lessons_are_404_never_403(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """IDOR: someone of school B trying the ids of school A's private or school-only lessons learns
    nothing, not even that they exist: 404 for every action, as for an id that was never issued."""
    world = await build_world(client, context)
    unseen = [
        lesson.id
        for (visibility, _), lesson in world.lessons.items()
        if visibility in (Visibility.private, Visibility.school)
    ] + [uuid.uuid4()]
    answers = {
        (asker.name, action.value, await attempt(client, asker, action, lesson_id))
        for asker in world.askers
        if asker.name in {"teacher_b", "student_b", "school_admin_b"}
        for lesson_id in unseen
        for action in (Action.read, Action.update, Action.comment, Action.delete)
    }
    assert {status for *_, status in answers} == {404}, sorted(answers)
