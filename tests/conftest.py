from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from search.index import SearchIndex
from services.app import create_app
from services.context import AppContext
from storage.blobs.base import BlobStore
from storage.migrate import upgrade_to_head
from tests import backends, stacks
from tests.live import execute_autocommit, run_in_new_loop


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "jiaoyun.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own, so several test runs can share one server safely."""
    backends.require("postgresql")
    server_url = make_url(backends.DATABASE_URL)
    name = f"{server_url.database}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    # Session fixtures may first be requested from inside a running event loop: a loop of its own.
    run_in_new_loop(execute_autocommit(server_url, f'CREATE DATABASE "{name}"'))
    url = server_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        run_in_new_loop(execute_autocommit(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[stacks.Database]:
    if request.param == "sqlite":
        async with stacks.sqlite_database(request.getfixturevalue("sqlite_template"), tmp_path) as db:
            yield db
    else:
        async with stacks.postgres_database(request.getfixturevalue("postgres_url")) as db:
            yield db


@pytest.fixture(params=["local", "s3"])
async def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        async with stacks.local_blob_store(tmp_path / "blobs") as store:
            yield store
    else:
        backends.require("minio")
        async with stacks.s3_blob_store() as s3_store:
            yield s3_store


@pytest.fixture(params=["embedded", "elasticsearch"])
async def search_index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchIndex]:
    if request.param == "embedded":
        async with stacks.embedded_search_index(tmp_path / "search.db") as index:
            yield index
    else:
        backends.require("elasticsearch")
        async with stacks.elasticsearch_index() as es_index:
            yield es_index


@pytest.fixture(params=["embedded", "servers"])
async def context(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AppContext]:
    """A whole stack: SQLite + local disk + FTS5, or PostgreSQL + MinIO + Elasticsearch."""
    settings = stacks.settings_for_tests(tmp_path)
    if request.param == "embedded":
        async with (
            stacks.sqlite_database(request.getfixturevalue("sqlite_template"), tmp_path) as db,
            stacks.local_blob_store(tmp_path / "blobs") as store,
            stacks.embedded_search_index(tmp_path / "search.db") as index,
        ):
            yield stacks.make_context(settings, db, store, index)
    else:
        for server in ("postgresql", "minio", "elasticsearch"):
            backends.require(server)
        async with (
            stacks.postgres_database(request.getfixturevalue("postgres_url")) as db,
            stacks.s3_blob_store() as s3_store,
            # Whole-app tests drain the outbox often; each drain waits for a scheduled refresh. The
            # contract tests (the search_index fixture) keep the 1 s of production.
            stacks.elasticsearch_index(refresh_interval="200ms") as es_index,
        ):
            yield stacks.make_context(settings, db, s3_store, es_index)


@pytest.fixture
async def client(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=context)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
