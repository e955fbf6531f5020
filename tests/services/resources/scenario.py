"""A small district for resource tests: two schools, their teachers and a student, signed in."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import delete, func, select

from search.index import SearchUnavailable
from services.context import AppContext
from services.jobs.worker import Worker
from storage.models.identity import Role, School, User
from storage.models.research import Notification, NotificationKind
from storage.models.resources import Resource, ResourceFile
from tests.factories import make_school, make_user, resource_metadata, token_for, upload_form


@dataclass
class District:
    client: httpx.AsyncClient
    context: AppContext
    school: School
    other_school: School
    teacher: User
    colleague: User
    student: User
    outsider: User
    teacher_auth: dict[str, str]
    colleague_auth: dict[str, str]
    student_auth: dict[str, str]
    outsider_auth: dict[str, str]
    # A district admin who approves district/public publishing (made when first needed).
    reviewer_auth: dict[str, str] | None = None

    async def upload(
        self,
        filename: str,
        content: bytes,
        auth: dict[str, str] | None = None,
        **metadata: Any,
    ) -> httpx.Response:
        return await self.client.post(
            "/api/v1/resources",
            files=upload_form(resource_metadata(**metadata), filename, content),
            headers=auth or self.teacher_auth,
        )

    async def created(self, filename: str, content: bytes, **metadata: Any) -> dict[str, Any]:
        """Uploaded, and if published to the district or the public, approved there at once (as a
        district admin would: services/review), so these tests see it where its owner asked."""
        response = await self.upload(filename, content, **metadata)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        if (
            metadata.get("visibility") in ("district", "public")
            and body["visibility"] != metadata["visibility"]
        ):
            await self.approve_publishing(body["id"])
            body["visibility"] = metadata["visibility"]  # as approved (not re-read: that counts a view)
        return body

    async def approve_publishing(self, resource_id: str) -> None:
        """Approve what waits for review about this resource (publishing wide, a new round), if any."""
        if self.reviewer_auth is None:
            async with self.context.sessionmaker() as session, session.begin():
                reviewer = await make_user(session, Role.district_admin)
            self.reviewer_auth = await token_for(self.client, reviewer)
        waiting = await self.client.get(
            f"/api/v1/review/subjects/resource/{resource_id}", headers=self.reviewer_auth
        )
        request = waiting.json()["request"]
        if request is None or request["state"] != "pending":
            return
        approved = await self.client.post(
            f"/api/v1/review/requests/{request['id']}/approve", headers=self.reviewer_auth
        )
        assert approved.status_code == 200, approved.text
        # The approval is this harness's doing, not the test's story: its notice leaves the inbox.
        async with self.context.sessionmaker() as session, session.begin():
            await session.execute(
                delete(Notification).where(Notification.kind == NotificationKind.review_decided)
            )

    async def process(self) -> None:
        """Run every queued job and periodic duty to completion, as the worker would, and make what it
        indexed visible to search (Elasticsearch refreshes on its own only every second)."""
        await Worker(self.context).run_until_idle()
        with contextlib.suppress(SearchUnavailable):  # an outage some tests stage: nothing to show
            await self.context.search_index.refresh()

    async def detail(self, resource_id: str, auth: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.client.get(
            f"/api/v1/resources/{resource_id}", headers=auth or self.teacher_auth
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def row_counts(self) -> tuple[int, int]:
        async with self.context.sessionmaker() as session:
            resources = await session.scalar(select(func.count()).select_from(Resource))
            files = await session.scalar(select(func.count()).select_from(ResourceFile))
        return int(resources or 0), int(files or 0)

    async def blob_keys(self) -> list[str]:
        return [key async for key in self.context.blob_store.list_keys("")]


async def district(client: httpx.AsyncClient, context: AppContext) -> District:
    async with context.sessionmaker() as session, session.begin():
        school = await make_school(session)
        other_school = await make_school(session)
        teacher = await make_user(session, Role.teacher, school)
        colleague = await make_user(session, Role.teacher, school)
        student = await make_user(session, Role.student, school)
        outsider = await make_user(session, Role.teacher, other_school)
    return District(
        client=client,
        context=context,
        school=school,
        other_school=other_school,
        teacher=teacher,
        colleague=colleague,
        student=student,
        outsider=outsider,
        teacher_auth=await token_for(client, teacher),
        colleague_auth=await token_for(client, colleague),
        student_auth=await token_for(client, student),
        outsider_auth=await token_for(client, outsider),
    )


def file_url(resource: dict[str, Any], file_id: str | uuid.UUID, suffix: str = "content") -> str:
    return f"/api/v1/resources/{resource['id']}/files/{file_id}/{suffix}"


def main_file(resource: dict[str, Any]) -> dict[str, Any]:
    """The primary file of the newest round."""
    files: list[dict[str, Any]] = resource["versions"][0]["files"]
    return next(file for file in files if file["purpose"] == "primary")
