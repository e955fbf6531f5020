"""A viewer counts once per resource per window, however often they open it, on any replica."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from services.context import AppContext
from services.maintenance.service import forget_expired_records_if_due
from storage.database import utcnow
from storage.models.identity import PublicationStatus, Visibility
from storage.models.resources import Resource, ResourceView
from tests.factories import make_resource
from tests.services.resources.scenario import district

pytestmark = pytest.mark.anyio


async def _views(context: AppContext, resource_id: object) -> int:
    async with context.sessionmaker() as session:
        return int(await session.scalar(select(Resource.view_count).where(Resource.id == resource_id)) or 0)


async def test_repeated_gets_count_once_per_viewer_per_window(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    async with context.sessionmaker() as session, session.begin():
        resource = await make_resource(session, world.teacher, Visibility.public, PublicationStatus.published)
    url = f"/api/v1/resources/{resource.id}"

    for _ in range(20):
        assert (await client.get(url)).status_code == 200  # anonymous, one address
    assert await _views(context, resource.id) == 1
    for _ in range(3):
        await client.get(url, headers=world.teacher_auth)
        await client.get(url, headers=world.colleague_auth)
        await client.get(f"/resources/{resource.id}", headers={"Authorization": ""})  # the page counts too
    assert await _views(context, resource.id) == 3

    link = await client.post(
        "/api/v1/share-links",
        json={"object_type": "resource", "object_id": str(resource.id)},
        headers=world.teacher_auth,
    )
    for _ in range(3):
        await client.get(url, params={"share": link.json()["token"]})
    assert await _views(context, resource.id) == 4

    # Once the window has passed, the same viewer counts again; the worker forgets old records.
    async with context.sessionmaker() as session, session.begin():
        await session.execute(update(ResourceView).values(viewed_at=utcnow() - timedelta(minutes=31)))
    await client.get(url)
    assert await _views(context, resource.id) == 5
    await forget_expired_records_if_due(context)
    async with context.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ResourceView)) == 1
