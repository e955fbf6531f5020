"""The request session: one transaction per request, and the database's refusals as 409s."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from services.app import create_app
from services.context import AppContext
from services.deps import SessionDep
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
