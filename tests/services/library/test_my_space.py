"""My space on both stacks: favorites, history of what one opened, 继续学习."""

from __future__ import annotations

import httpx
import pytest

from services.context import AppContext
from storage.models.identity import Visibility
from storage.models.resources import ResourceType
from tests.factories import make_resource
from tests.services.assignments.world import classroom

pytestmark = pytest.mark.anyio


async def test_favorites_history_and_continue_learning(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await classroom(client, context)
    async with context.sessionmaker() as session, session.begin():
        micro = await make_resource(session, world.users["teacher"], resource_type=ResourceType.micro_lesson)
        other_school = await make_resource(session, world.users["outsider"])
        micro_id, hidden_id = str(micro.id), str(other_school.id)
    task = (await world.assign())["id"]

    await world.ok("GET", f"/api/v1/resources/{micro_id}", "s1")
    await world.ok("GET", f"/api/v1/resources/{world.resource_id}", "s1")
    await world.ok("GET", f"/api/v1/resources/{micro_id}", "s1")
    history = await world.ok("GET", "/api/v1/me/history", "s1")
    assert [(item["resource_id"], item["views"]) for item in history["items"]] == [
        (micro_id, 2),
        (world.resource_id, 1),
    ]
    assert (await world.ok("GET", "/api/v1/me/history", "s2"))["total"] == 0

    await world.call("PUT", f"/api/v1/me/favorites/{world.resource_id}", "s1", 204)
    await world.call("PUT", f"/api/v1/me/favorites/{world.resource_id}", "s1", 204)  # again: harmless
    await world.call("PUT", f"/api/v1/me/favorites/{micro_id}", "s1", 204)
    await world.call("PUT", f"/api/v1/me/favorites/{hidden_id}", "s1", 404)
    favorites = await world.ok("GET", "/api/v1/me/favorites", "s1")
    assert [item["resource_id"] for item in favorites["items"]] == [micro_id, world.resource_id]

    going_on = await world.ok("GET", "/api/v1/me/continue", "s1")
    # Both are recordings (the task's is a 课例): what one watches through.
    assert [item["resource_id"] for item in going_on["lessons"]] == [micro_id, world.resource_id]
    assert [item["id"] for item in going_on["tasks"]] == [task]
    await world.submit(task, "s1", "做完了")
    assert (await world.ok("GET", "/api/v1/me/continue", "s1"))["tasks"] == []

    # Made private by its owner: it drops out of others' favorites and history.
    await world.ok(
        "PATCH", f"/api/v1/resources/{micro_id}", "teacher", json={"visibility": Visibility.private.value}
    )
    assert [
        item["resource_id"] for item in (await world.ok("GET", "/api/v1/me/favorites", "s1"))["items"]
    ] == [world.resource_id]
    await world.call("DELETE", f"/api/v1/me/favorites/{world.resource_id}", "s1", 204)
    assert (await world.ok("GET", "/api/v1/me/favorites", "s1"))["total"] == 0
    await world.call("DELETE", "/api/v1/me/history", "s1", 204)
    assert (await world.ok("GET", "/api/v1/me/history", "s1"))["total"] == 0
    await world.call("GET", "/api/v1/me/favorites", None, 401)
