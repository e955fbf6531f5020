"""The request session: one transaction per request, and the database's refusals as 409s."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from services.app import create_app
from services.context import AppContext
from services.deps import SessionDep, read_only
from storage.models.identity import School

pytestmark = pytest.mark.anyio


async def test_integrity_errors_from_flush_or_commit_are_409(context: AppContext) -> None:
    """Two requests may both pass a service's duplicate check; the unique index then says no."""
    app = create_app(context=context)

    @app.post("/api/v1/test/duplicate-on-flush")
    async def duplicate_on_flush(session: SessionDep) -> None:
        session.add(School(name="重名小学"))
        await session.flush()
        session.add(School(name="重名小学"))
        await session.flush()

    @app.post("/api/v1/test/duplicate-on-commit")
    async def duplicate_on_commit(session: SessionDep) -> None:
        session.add_all([School(name="同名中学"), School(name="同名中学")])

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        for path in ("/api/v1/test/duplicate-on-flush", "/api/v1/test/duplicate-on-commit"):
            response = await http.post(path)
            assert response.status_code == 409, (path, response.text)
            assert response.json()["error"]["code"] == "conflict"
    async with context.sessionmaker() as session:
        # Rolled back: not even the first of each pair was kept.
        assert await session.scalar(select(func.count()).select_from(School)) == 0


async def test_a_read_only_route_may_read_but_never_write(context: AppContext) -> None:
    """Its session has no transaction to commit (services.deps.read_only): a write is refused as the
    bug it is, before it reaches the database, rather than committed statement by statement."""
    app = create_app(context=context)

    @app.get("/api/v1/test/read-only-count")
    @read_only
    async def count(session: SessionDep) -> int:
        return int(await session.scalar(select(func.count()).select_from(School)) or 0)

    @app.get("/api/v1/test/read-only-write")
    @read_only
    async def write(session: SessionDep) -> None:
        session.add(School(name="只读小学"))
        await session.flush()

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/api/v1/test/read-only-count")).json() == 0
        assert (await http.get("/api/v1/test/read-only-write")).status_code == 500
        assert (await http.get("/api/v1/test/read-only-count")).json() == 0
