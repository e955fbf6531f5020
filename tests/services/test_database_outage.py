"""With the database unreachable, requests that need it get 503 in the one error shape (never 500),
and the connection stays usable for the next request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.app import create_app
from services.context import AppContext
from storage.database import create_engine
from tests import stacks
from tests.stacks import Database

pytestmark = pytest.mark.anyio


@pytest.fixture
async def unreachable_database(tmp_path: Path) -> AsyncIterator[AppContext]:
    # A real asyncpg engine against a port nothing listens on: connecting fails as during an outage.
    engine = create_engine("postgresql+asyncpg://jiaoyun:jiaoyun@127.0.0.1:9/jiaoyun", pool_size=2)
    database = Database(
        "postgresql", "unreachable", engine, async_sessionmaker(engine, expire_on_commit=False)
    )
    try:
        async with (
            stacks.local_blob_store(tmp_path / "blobs") as store,
            stacks.embedded_search_index(tmp_path / "search.db") as index,
        ):
            yield stacks.make_context(stacks.settings_for_tests(tmp_path), database, store, index)
    finally:
        await engine.dispose()


async def test_requests_needing_the_database_get_503(unreachable_database: AppContext) -> None:
    app = create_app(context=unreachable_database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        responses = [
            await client.post("/api/v1/auth/token", data={"username": "a", "password": "b"}),
            await client.get("/api/v1/resources"),
            await client.get("/api/v1/search", params={"q": "树"}),
        ]
        for response in responses:
            assert response.status_code == 503, (response.url, response.text)
            assert response.json()["error"]["code"] == "service_unavailable"
            assert response.headers["retry-after"] == "5"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "database" in ready.json()["error"]["message"]
