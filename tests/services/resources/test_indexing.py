"""Resources in search: view counts reach the index in batches, so sort=popular follows the views."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from services.context import AppContext
from services.resources.indexing import POPULARITY_REINDEX_INTERVAL
from services.resources.repository import ResourceRepository
from storage.database import utcnow
from storage.models.maintenance import MaintenanceRun
from tests import samples
from tests.services.resources.scenario import District, district

pytestmark = pytest.mark.anyio


async def popular(world: District) -> list[str]:
    await world.context.search_index.refresh()
    response = await world.client.get(
        "/api/v1/search", params={"q": "喜鹊", "sort": "popular"}, headers=world.teacher_auth
    )
    assert response.status_code == 200, response.text
    return [hit["resource_id"] for hit in response.json()["hits"]]


async def view(world: District, resource: dict[str, Any], viewers: int) -> None:
    """Views by that many different people (one person counts once per window)."""
    for auth in [world.colleague_auth, world.student_auth][:viewers]:
        response = await world.client.get(f"/api/v1/resources/{resource['id']}", headers=auth)
        assert response.status_code == 200


async def test_views_reach_search_once_per_interval_and_order_popular(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    pdf = samples.pdf_bytes(["内容"])
    seldom, often, never = [
        await world.created(f"{n}.pdf", pdf, title=f"喜鹊 第{n}课", resource_type="lesson_plan")
        for n in (1, 2, 3)
    ]
    await world.process()  # the first run of the duty takes this interval's turn
    before = await world.detail(often["id"])  # a view, as any read of the resource

    await view(world, often, 2)
    await view(world, seldom, 1)
    async with context.sessionmaker() as session:
        counted = await ResourceRepository(session).get(uuid.UUID(often["id"]))
    assert counted is not None and counted.view_count == 3
    # A view is no edit.
    assert counted.updated_at.isoformat() == before["updated_at"].replace("Z", "+00:00")

    # Within the interval the index keeps the counts it had: no index write per view.
    await world.process()
    assert (await popular(world))[0] != often["id"]

    async with context.sessionmaker() as session, session.begin():
        await session.execute(
            update(MaintenanceRun)
            .where(MaintenanceRun.name == "popularity")
            .values(last_run_at=utcnow() - POPULARITY_REINDEX_INTERVAL - timedelta(seconds=1))
        )
    await world.process()
    assert await popular(world) == [often["id"], seldom["id"], never["id"]]

    # Settled: nothing is queued again until the next views.
    async with context.sessionmaker() as session:
        assert await ResourceRepository(session).with_unindexed_views(10) == []
