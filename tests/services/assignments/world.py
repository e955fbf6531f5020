"""A school with two classes for the students' half: an admin sets them up through the API, teachers
teach them, students are in them; a second school and a district admin stand outside."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from PIL import Image

from services.classes.service import current_school_year
from services.context import AppContext
from storage.models.identity import Role, School, User, Visibility
from tests.factories import make_resource, make_school, make_user, token_for


@dataclass
class Classroom:
    client: httpx.AsyncClient
    context: AppContext
    school: School
    users: dict[str, User]
    auth: dict[str, dict[str, str]]
    class5: dict[str, Any]
    class6: dict[str, Any]
    students5: list[User]
    resource_id: str
    private_resource_id: str
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    async def headers(self, who: str) -> dict[str, str]:
        if who not in self.auth:
            self.auth[who] = await token_for(self.client, self.users[who])
        return self.auth[who]

    async def call(
        self, method: str, url: str, who: str | None, expect: int | None = None, **kw: Any
    ) -> httpx.Response:
        headers = await self.headers(who) if who else {}
        response = await self.client.request(method, url, headers=headers, **kw)
        if expect is not None:
            assert response.status_code == expect, (method, url, who, response.text)
        return response

    async def ok(self, method: str, url: str, who: str, expect: int = 200, **kw: Any) -> Any:
        response = await self.call(method, url, who, expect, **kw)
        return response.json() if response.content else None

    async def assign(self, who: str = "teacher", expect: int = 201, **fields: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": "《树和喜鹊》朗读与生字练习",
            "instructions": "先看微课，再朗读课文并拍照上传生字练习。",
            "resource_ids": [self.resource_id],
            "class_ids": [self.class5["id"]],
            "due_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
            **fields,
        }
        body: dict[str, Any] = await self.ok("POST", "/api/v1/assignments", who, expect, json=data)
        return body

    async def submit(
        self,
        assignment_id: str,
        who: str,
        text: str = "",
        files: list[tuple[str, bytes]] | None = None,
        expect: int | None = 200,
    ) -> httpx.Response:
        parts: list[tuple[str, tuple[str | None, bytes | str, str]]] = [("text", (None, text, "text/plain"))]
        for name, content in files or []:
            parts.append(("file", (name, content, "application/octet-stream")))
        return await self.call(
            "POST", f"/api/v1/assignments/{assignment_id}/submission", who, expect, files=parts
        )


def photo_bytes(width: int = 40, height: int = 20, orientation: int = 6) -> bytes:
    """A phone photo stored sideways with an EXIF orientation saying how to turn it upright."""
    image = Image.new("RGB", (width, height), (200, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def classroom(client: httpx.AsyncClient, context: AppContext, class_size: int = 3) -> Classroom:
    async with context.sessionmaker() as session, session.begin():
        school = await make_school(session)
        other_school = await make_school(session)
        users = {
            "admin": await make_user(session, Role.school_admin, school),
            "teacher": await make_user(session, Role.teacher, school, display_name="王老师"),
            "colleague": await make_user(session, Role.teacher, school),
            "teacher6": await make_user(session, Role.teacher, school),
            "student6": await make_user(session, Role.student, school),
            "other_admin": await make_user(session, Role.school_admin, other_school),
            "outsider": await make_user(session, Role.teacher, other_school),
            "district_admin": await make_user(session, Role.district_admin),
        }
        students5 = [
            await make_user(session, Role.student, school, display_name=f"学生{number:02d}")
            for number in range(1, class_size + 1)
        ]
        for number, student in enumerate(students5, start=1):
            users[f"s{number}"] = student
        resource = await make_resource(session, users["teacher"])
        private = await make_resource(session, users["teacher"], visibility=Visibility.private)
        resource_id, private_id = str(resource.id), str(private.id)
    world = Classroom(
        client=client,
        context=context,
        school=school,
        users=users,
        auth={},
        class5={},
        class6={},
        students5=students5,
        resource_id=resource_id,
        private_resource_id=private_id,
    )
    year = current_school_year()
    world.class5 = await world.ok(
        "POST",
        "/api/v1/classes",
        "admin",
        201,
        json={"grade": 1, "number": 5, "school_year": year, "head_teacher_id": str(users["teacher"].id)},
    )
    world.class6 = await world.ok("POST", "/api/v1/classes", "admin", 201, json={"grade": 1, "number": 6})
    await world.ok(
        "POST",
        f"/api/v1/classes/{world.class5['id']}/students",
        "admin",
        json={"student_ids": [str(student.id) for student in students5]},
    )
    await world.ok(
        "POST",
        f"/api/v1/classes/{world.class5['id']}/teachers",
        "admin",
        json={"teacher_id": str(users["teacher"].id), "subject": "语文"},
    )
    await world.ok(
        "POST",
        f"/api/v1/classes/{world.class6['id']}/students",
        "admin",
        json={"student_ids": [str(users["student6"].id)]},
    )
    await world.ok(
        "POST",
        f"/api/v1/classes/{world.class6['id']}/teachers",
        "admin",
        json={"teacher_id": str(users["teacher6"].id), "subject": "数学"},
    )
    return world
