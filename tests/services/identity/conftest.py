"""Stacks whose transactions really commit, for races between concurrent requests.

The `context` fixture runs each PostgreSQL test inside one rolled-back transaction on one connection,
so requests there cannot overlap. Here every session has a connection of its own, as in production:
SQLite is a file of this test's own, PostgreSQL a database of this test's own (copied from a migrated
template, dropped afterwards).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from services.app import create_app
from services.context import AppContext
from storage.database import create_engine, create_sessionmaker
from storage.migrate import upgrade_to_head
from tests import backends, stacks
from tests.live import execute_autocommit, run_in_new_loop


async def _administer(statement: str) -> None:
    await execute_autocommit(backends.DATABASE_URL, statement)


def _administer_now(statement: str) -> None:
    # Session fixtures may first be requested from inside a running event loop: a loop of its own.
    run_in_new_loop(_administer(statement))


@pytest.fixture(scope="session")
def committing_postgres_template() -> Iterator[str]:
    backends.require("postgresql")
    name = f"{make_url(backends.DATABASE_URL).database}_races_{uuid.uuid4().hex[:8]}"
    _administer_now(f'CREATE DATABASE "{name}"')
    try:
        upgrade_to_head(make_url(backends.DATABASE_URL).set(database=name).render_as_string(False))
        yield name
    finally:
        _administer_now(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
async def committing_context(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AppContext]:
    settings = stacks.settings_for_tests(tmp_path)
    async with (
        stacks.local_blob_store(tmp_path / "blobs") as store,
        stacks.embedded_search_index(tmp_path / "search.db") as index,
    ):
        if request.param == "sqlite":
            async with stacks.sqlite_database(request.getfixturevalue("sqlite_template"), tmp_path) as db:
                yield stacks.make_context(settings, db, store, index)
            return
        template = request.getfixturevalue("committing_postgres_template")
        name = f"{template}_{uuid.uuid4().hex[:6]}"
        await _administer(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = make_url(backends.DATABASE_URL).set(database=name).render_as_string(False)
        engine = create_engine(url, pool_size=20)
        try:
            database = stacks.Database("postgresql", url, engine, create_sessionmaker(engine))
            yield stacks.make_context(settings, database, store, index)
        finally:
            await engine.dispose()
            await _administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def committing_client(committing_context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=committing_context)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http
