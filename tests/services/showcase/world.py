"""A small district for the showcase and collections: two schools, every role, resources of each reach."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from search.index import SearchUnavailable
from services.context import AppContext
from services.identity.tokens import issue_access_token
from services.indexing.service import enqueue_reindex
from services.jobs.worker import Worker
from services.resources.service import SEARCH_PARENT
from storage.models.identity import PublicationStatus, Role, Visibility
from storage.models.resources import ResourceType
from tests.factories import make_resource, make_school, make_user


@dataclass
class World:
    client: httpx.AsyncClient
    context: AppContext
    auth: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)

    async def call(
        self, method: str, url: str, who: str | None, status: int, **kwargs: Any
    ) -> httpx.Response:
        headers = self.auth[who] if who else {}
        response = await self.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code == status, (
            f"{method} {url} as {who}: {response.status_code} {response.text}"
        )
        return response

    async def ok(self, method: str, url: str, who: str | None, **kwargs: Any) -> Any:
        expected = 201 if method == "POST" and kwargs.pop("created", False) else 200
        return (await self.call(method, url, who, expected, **kwargs)).json()

    async def process(self) -> None:
        await Worker(self.context).run_until_idle()
        with contextlib.suppress(SearchUnavailable):
            await self.context.search_index.refresh()


async def world(client: httpx.AsyncClient, context: AppContext) -> World:
    """People: teacher, colleague (same school), student, outsider teacher and outsider student (other
    school), lead (research lead), school_admin, district_admin. Resources of the teacher: `district`
    (district-wide lesson), `public`, `school` (school only), `private`, `draft`; `outside` (other
    school's, school only)."""
    made = World(client, context)
    async with context.sessionmaker() as session, session.begin():
        school = await make_school(session)
        other = await make_school(session)
        people = {
            "teacher": await make_user(session, Role.teacher, school),
            "colleague": await make_user(session, Role.teacher, school),
            "student": await make_user(session, Role.student, school),
            "outsider": await make_user(session, Role.teacher, other),
            "outsider_student": await make_user(session, Role.student, other),
            "lead": await make_user(session, Role.research_lead),
            "school_admin": await make_user(session, Role.school_admin, school),
            "district_admin": await make_user(session, Role.district_admin),
        }
        teacher = people["teacher"]
        lesson = ResourceType.lesson_record
        resources = {
            "district": await make_resource(
                session, teacher, Visibility.district, title="认识钟表 区级展示课", resource_type=lesson
            ),
            "public": await make_resource(session, teacher, Visibility.public, title="认识钟表 公开课"),
            "school": await make_resource(session, teacher, Visibility.school, title="认识钟表 校内研讨课"),
            "private": await make_resource(session, teacher, Visibility.private, title="认识钟表 私人"),
            "draft": await make_resource(
                session, teacher, Visibility.district, PublicationStatus.draft, title="认识钟表 草稿"
            ),
            "outside": await make_resource(session, people["outsider"], Visibility.school, title="外校课例"),
        }
        made.ids = {name: str(resource.id) for name, resource in resources.items()}
        made.user_ids = {name: str(user.id) for name, user in people.items()}
        # Tokens minted as signing in would (eight argon2 verifications would cost seconds per test).
        for name, user in people.items():
            token, _ = issue_access_token(user, context.settings)
            made.auth[name] = {"Authorization": f"Bearer {token}"}
    # The resources were written without the API: index them as an upload would.
    async with context.sessionmaker() as session, session.begin():
        for resource_id in made.ids.values():
            enqueue_reindex(session, SEARCH_PARENT, uuid.UUID(resource_id))
    await made.process()
    return made
