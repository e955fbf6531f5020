"""A district for review tests: two schools, teachers, a 语文 and a 数学 research lead (assigned
through the API), a school admin, a district admin, a student; resources uploaded through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.context import AppContext
from services.identity.tokens import issue_access_token
from services.jobs.worker import Worker
from storage.models.identity import Role, School, User
from tests import samples
from tests.factories import make_school, make_user, resource_metadata, upload_form

PDF = samples.pdf_bytes(["第一页 喜鹊识字", "第二页 审核流程"])


@dataclass
class ReviewWorld:
    client: httpx.AsyncClient
    context: AppContext
    school: School
    other_school: School
    teacher: User
    auth: dict[str, Any]
    people: dict[str, User]

    async def upload(self, who: str = "teacher", **metadata: Any) -> httpx.Response:
        return await self.client.post(
            "/api/v1/resources",
            files=upload_form(resource_metadata(**metadata), "教案.pdf", PDF),
            headers=self.auth[who],
        )

    async def created(self, who: str = "teacher", **metadata: Any) -> dict[str, Any]:
        response = await self.upload(who, **metadata)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def get(self, path: str, who: str | None = None, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.auth[who] if who else {})

    async def post(self, path: str, who: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.auth[who])

    async def patch(self, path: str, who: str, body: Any) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.auth[who])

    async def can_open(self, resource_id: str, who: str | None) -> bool:
        response = await self.get(f"/api/v1/resources/{resource_id}", who)
        assert response.status_code in (200, 404), response.text
        return response.status_code == 200

    async def review_of(self, resource_id: str, who: str = "teacher") -> dict[str, Any] | None:
        response = await self.get(f"/api/v1/review/subjects/resource/{resource_id}", who)
        assert response.status_code == 200, response.text
        request: dict[str, Any] | None = response.json()["request"]
        return request

    async def queue(self, who: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.get("/api/v1/review/queue", who, **params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def decide(
        self, request_id: str, action: str, who: str, reason: str | None = None
    ) -> httpx.Response:
        body = {"reason": reason} if reason is not None else None
        return await self.post(f"/api/v1/review/requests/{request_id}/{action}", who, body)

    async def process(self) -> None:
        await Worker(self.context).run_until_idle()
        await self.context.search_index.refresh()


def _bearer(user: User, context: AppContext) -> dict[str, str]:
    token, _ = issue_access_token(user, context.settings)
    return {"Authorization": f"Bearer {token}"}


async def review_world(client: httpx.AsyncClient, context: AppContext) -> ReviewWorld:
    async with context.sessionmaker() as session, session.begin():
        school = await make_school(session)
        other_school = await make_school(session)
        people = {
            "teacher": await make_user(session, Role.teacher, school),
            "colleague": await make_user(session, Role.teacher, school),
            "student": await make_user(session, Role.student, school),
            "school_admin": await make_user(session, Role.school_admin, school),
            "outsider": await make_user(session, Role.teacher, other_school),
            "outside_student": await make_user(session, Role.student, other_school),
            "chinese_lead": await make_user(session, Role.research_lead),
            "math_lead": await make_user(session, Role.research_lead),
            "admin": await make_user(session, Role.district_admin),
        }
    # Tokens issued directly: signing nine people in (argon2 each) would cost more than the test.
    auth = {name: _bearer(user, context) for name, user in people.items()}
    world = ReviewWorld(client, context, school, other_school, people["teacher"], auth, people)
    for lead, subject in (("chinese_lead", "语文"), ("math_lead", "数学")):
        response = await world.post(
            "/api/v1/review/leads", "admin", {"user_id": str(people[lead].id), "subject": subject}
        )
        assert response.status_code == 201, response.text
    return world
