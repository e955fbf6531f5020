from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from search.index import SearchIndex
from services.app import create_app
from services.context import AppContext
from storage.blobs.base import BlobStore
from storage.migrate import upgrade_to_head
from tests import backends, stacks

T = TypeVar("T")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "jiaoyun.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


def _run_async(work: Coroutine[Any, Any, T]) -> T:
    # Session fixtures may first be requested from inside a running event loop: use a fresh loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own, so several test runs can share one server safely."""
    backends.require("postgresql")
    server_url = make_url(backends.DATABASE_URL)
    name = f"{server_url.database}_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def administer(statement: str) -> None:
        engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    _run_async(administer(f'CREATE DATABASE "{name}"'))
    url = server_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        _run_async(administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
            stacks.elasticsearch_index() as es_index,
        ):
            yield stacks.make_context(settings, db, s3_store, es_index)


@pytest.fixture
async def client(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=context)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
