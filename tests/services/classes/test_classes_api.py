"""Classes through the API on both stacks: set up by school admins, seen by their people, promoted."""

from __future__ import annotations

import httpx
import pytest

from services.context import AppContext
from tests.services.assignments.world import classroom

pytestmark = pytest.mark.anyio


async def test_classes_are_the_school_admins(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await classroom(client, context)
    class5 = world.class5["id"]
    detail = await world.ok("GET", f"/api/v1/classes/{class5}", "s1")
    assert detail["name"] == "一年级五班" and detail["student_count"] == 3
    assert detail["head_teacher"]["id"] == str(world.users["teacher"].id)
    assert [teaching["subject"] for teaching in detail["teachers"]] == ["语文"]
    await world.call("GET", f"/api/v1/classes/{class5}", "student6", 404)
    await world.call("GET", f"/api/v1/classes/{class5}", "other_admin", 404)
    await world.call("GET", f"/api/v1/classes/{class5}", "colleague", 404)
    await world.call("POST", "/api/v1/classes", "teacher", 403, json={"grade": 2, "number": 1})
    await world.call("POST", "/api/v1/classes", "admin", 409, json={"grade": 1, "number": 5})
    await world.call("POST", "/api/v1/classes", "admin", 422, json={"grade": 13, "number": 1})
    await world.call(
        "POST", f"/api/v1/classes/{class5}/teachers", "teacher", 403,
        json={"teacher_id": str(world.users["colleague"].id), "subject": "数学"},
    )  # fmt: skip
    # People of another school, or of the wrong role, are refused.
    await world.call(
        "POST",
        f"/api/v1/classes/{class5}/students",
        "admin",
        422,
        json={"student_ids": [str(world.users["outsider"].id)]},
    )
    await world.call(
        "POST",
        f"/api/v1/classes/{class5}/students",
        "admin",
        422,
        json={"student_ids": [str(world.users["colleague"].id)]},
    )
    await world.call(
        "POST", f"/api/v1/classes/{class5}/teachers", "admin", 422,
        json={"teacher_id": str(world.users["colleague"].id), "subject": "魔法"},
    )  # fmt: skip
    # One class per school year: joining class 6 moves s1 out of class 5.
    await world.ok(
        "POST",
        f"/api/v1/classes/{world.class6['id']}/students",
        "admin",
        json={"student_ids": [str(world.users["s1"].id)]},
    )
    assert (await world.ok("GET", f"/api/v1/classes/{class5}", "admin"))["student_count"] == 2
    # Lists: the admin sees the school's classes, a teacher those they teach, a student their own.
    assert len(await world.ok("GET", "/api/v1/classes", "admin")) == 2
    assert [item["name"] for item in await world.ok("GET", "/api/v1/classes", "teacher6")] == ["一年级六班"]
    assert [item["name"] for item in await world.ok("GET", "/api/v1/classes", "s1")] == ["一年级六班"]


async def test_promotion_moves_every_class_up_one_grade(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context)
    year = world.class5["school_year"]
    sixth = await world.ok("POST", "/api/v1/classes", "admin", 201, json={"grade": 6, "number": 1})
    assert sixth["school_year"] == year
    promoted = await world.ok("POST", "/api/v1/classes/promote", "admin", json={"from_year": year})
    assert promoted["graduated"] == 1  # the school is a 小学: 六年级 leaves
    names = sorted(item["name"] for item in promoted["promoted"])
    assert names == ["二年级五班", "二年级六班"]
    new5 = next(item for item in promoted["promoted"] if item["name"] == "二年级五班")
    assert new5["school_year"] == year + 1 and new5["student_count"] == 3
    assert [teaching["subject"] for teaching in new5["teachers"]] == ["语文"]
    await world.call("POST", "/api/v1/classes/promote", "admin", 409, json={"from_year": year})
    await world.call("POST", "/api/v1/classes/promote", "teacher", 403, json={"from_year": year})
    # Last year's class keeps its students, so last year's work stays where it was.
    assert (await world.ok("GET", f"/api/v1/classes/{world.class5['id']}", "admin"))["student_count"] == 3
