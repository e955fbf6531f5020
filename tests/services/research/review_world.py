"""A district for lesson-review tests: the resources scenario plus reviewers, a research lead and admins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import update

from services.context import AppContext
from storage.models.identity import Role, User
from tests import samples
from tests.factories import make_user, token_for, upload_form
from tests.services.resources.scenario import District, district

LESSON_SECONDS = 20.0
# What the reviewers teach; the lesson reviewed is grade 2 语文 (the factories' default).
COLLEAGUE_NAME = "四年级数学 赵老师"
SECOND_NAME = "五年级科学 王老师"
OUTSIDER_NAME = "六年级英语 孙老师"
RUBRIC: dict[str, Any] = {
    "name": "课堂观察量表",
    "description": "区级磨课通用量表",
    "criteria": [
        {"name": "教学目标达成", "description": "目标清晰、达成度高", "min_score": 0, "max_score": 10},
        {"name": "师生互动", "description": "提问覆盖面与反馈", "min_score": 0, "max_score": 10},
        {"name": "学生参与", "description": "", "min_score": 1, "max_score": 5},
    ],
}


def lesson_video(duration_s: float = LESSON_SECONDS) -> bytes:
    return samples.mp4_bytes(duration_s=duration_s, width=160, height=120, fps=5)


@dataclass
class ReviewWorld:
    """`base.teacher` teaches the lesson (grade 2 语文 unless told otherwise); `base.colleague` and `second`
    teach other grades and subjects at the same school, `base.outsider` at another school;
    `base.student` is in the teacher's school. Users carry no grade or subject of their own, so the
    colleagues' display names say what they teach."""

    base: District
    second: User
    lead: User
    admin: User
    school_admin: User
    second_auth: dict[str, str]
    lead_auth: dict[str, str]
    admin_auth: dict[str, str]
    school_admin_auth: dict[str, str]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.base.client

    async def lesson(
        self,
        *,
        duration_s: float = LESSON_SECONDS,
        auth: dict[str, str] | None = None,
        **metadata: Any,
    ) -> dict[str, Any]:
        """A lesson recording, published district-wide unless told otherwise, processed."""
        response = await self.base.upload(
            "试课.mp4",
            lesson_video(duration_s),
            auth,
            **{"resource_type": "lesson_record", "visibility": "district", **metadata},
        )
        assert response.status_code == 201, response.text
        # Published district-wide as a district admin approves it (services/review).
        await self.base.approve_publishing(response.json()["id"])
        await self.base.process()
        body: dict[str, Any] = response.json()
        return body

    async def new_round(self, resource_id: str, duration_s: float = LESSON_SECONDS) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/v1/resources/{resource_id}/versions",
            files=upload_form({"note": "根据议课意见调整"}, "第二次试课.mp4", lesson_video(duration_s)),
            headers=self.base.teacher_auth,
        )
        assert response.status_code == 201, response.text
        # A new round of a district-wide lesson goes back to review; approved as a district admin would.
        await self.base.approve_publishing(resource_id)
        await self.base.process()
        body: dict[str, Any] = response.json()
        return body

    async def rubric(self, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/rubrics", json={**RUBRIC, **overrides}, headers=self.admin_auth
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def categories(self) -> dict[str, str]:
        """Name → id of the active observation categories."""
        response = await self.client.get("/api/v1/review/categories", headers=self.base.teacher_auth)
        assert response.status_code == 200, response.text
        return {category["name"]: category["id"] for category in response.json()}

    async def comment(self, resource_id: str, auth: dict[str, str], **body: Any) -> httpx.Response:
        return await self.client.post(f"/api/v1/resources/{resource_id}/comments", json=body, headers=auth)

    async def commented(self, resource_id: str, auth: dict[str, str], **body: Any) -> dict[str, Any]:
        response = await self.comment(resource_id, auth, **body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def timeline(
        self, resource_id: str, auth: dict[str, str] | None = None, version: int | None = None
    ) -> dict[str, Any]:
        params = {"version": version} if version is not None else {}
        response = await self.client.get(
            f"/api/v1/resources/{resource_id}/comments", params=params, headers=auth or self.base.teacher_auth
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def score(
        self,
        resource_id: str,
        version: int,
        rubric: dict[str, Any],
        values: list[int],
        auth: dict[str, str],
    ) -> httpx.Response:
        scores = [
            {"criterion_id": criterion["id"], "score": value}
            for criterion, value in zip(rubric["criteria"], values, strict=True)
        ]
        return await self.client.put(
            f"/api/v1/resources/{resource_id}/versions/{version}/scores",
            json={"rubric_id": rubric["id"], "scores": scores},
            headers=auth,
        )

    async def scores(self, resource_id: str, auth: dict[str, str], **params: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/api/v1/resources/{resource_id}/scores", params=params, headers=auth
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def inbox(self, auth: dict[str, str], **params: str) -> dict[str, Any]:
        response = await self.client.get("/api/v1/notifications", params=params, headers=auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def review_world(client: httpx.AsyncClient, context: AppContext) -> ReviewWorld:
    base = await district(client, context)
    async with context.sessionmaker() as session, session.begin():
        for colleague, display_name in (
            (base.colleague, COLLEAGUE_NAME),
            (base.outsider, OUTSIDER_NAME),
        ):
            await session.execute(
                update(User).where(User.id == colleague.id).values(display_name=display_name)
            )
            colleague.display_name = display_name
        second = await make_user(session, Role.teacher, base.school, display_name=SECOND_NAME)
        lead = await make_user(session, Role.research_lead, None, display_name="区教研员 李老师")
        admin = await make_user(session, Role.district_admin, None)
        school_admin = await make_user(session, Role.school_admin, base.school)
    return ReviewWorld(
        base=base,
        second=second,
        lead=lead,
        admin=admin,
        school_admin=school_admin,
        second_auth=await token_for(client, second),
        lead_auth=await token_for(client, lead),
        admin_auth=await token_for(client, admin),
        school_admin_auth=await token_for(client, school_admin),
    )
