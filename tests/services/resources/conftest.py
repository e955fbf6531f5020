"""A stack whose sessions really run side by side, for tests of requests racing each other.

The `context` fixture runs PostgreSQL tests inside one connection's transaction (rolled back at the
end), where concurrent sessions cannot race. Here the server stack gets a database of its own, with a
real pool, dropped afterwards; SQLite (a file per test) already commits for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.app import create_app
from services.context import AppContext
from storage.database import create_engine
from storage.migrate import upgrade_to_head_async
from tests import backends, stacks
from tests.live import Tenant


@pytest.fixture(params=["embedded", "servers"])
async def racing_context(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AppContext]:
    settings = stacks.settings_for_tests(tmp_path)
    if request.param == "embedded":
        async with (
            stacks.sqlite_database(request.getfixturevalue("sqlite_template"), tmp_path) as db,
            stacks.local_blob_store(tmp_path / "blobs") as store,
            stacks.embedded_search_index(tmp_path / "search.db") as index,
        ):
            yield stacks.make_context(settings, db, store, index)
        return
    for server in ("postgresql", "minio", "elasticsearch"):
        backends.require(server)
    tenant = Tenant(backends.shared_servers(), purpose="race")
    await tenant.create_database()
    try:
        await upgrade_to_head_async(tenant.database_url)
        engine = create_engine(tenant.database_url, pool_size=8)
        database = stacks.Database(
            "postgresql", tenant.database_url, engine, async_sessionmaker(engine, expire_on_commit=False)
        )
        try:
            async with stacks.s3_blob_store() as store, stacks.elasticsearch_index() as index:
                yield stacks.make_context(settings, database, store, index)
        finally:
            await engine.dispose()
    finally:
        await tenant.drop_database()


@pytest.fixture
async def racing_client(racing_context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=racing_context)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
