"""Read sessions (no BEGIN/COMMIT on PostgreSQL, writes refused) and the pool's ping of idle
connections (one round trip, and only after an idle spell)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import database as storage_database
from storage.database import (
    ReadOnlySessionWrite,
    create_engine,
    create_read_sessionmaker,
    create_sessionmaker,
    refuse_writes,
)
from storage.models.identity import School
from tests.stacks import Database

pytestmark = pytest.mark.anyio


def log_messages(engine: AsyncEngine) -> list[str]:
    """Every message asyncpg sends outside SQLAlchemy's statements (BEGIN, COMMIT, the ping's query)
    on connections made from here on."""
    messages: list[str] = []

    @event.listens_for(engine.sync_engine, "connect")
    def _log(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda record: messages.append(record.query))

    return messages


@pytest.fixture
async def postgres_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_read_sessions_on_postgresql_send_no_begin_nor_commit(postgres_engine: AsyncEngine) -> None:
    messages = log_messages(postgres_engine)
    async with create_read_sessionmaker(postgres_engine)() as session:
        refuse_writes(session)
        assert (await session.execute(select(1))).scalar_one() == 1
        assert (await session.execute(text("SELECT 2"))).scalar_one() == 2
    assert messages == []
    # The connection goes back to the pool as it was: the next plain session has its transaction.
    async with create_sessionmaker(postgres_engine)() as session:
        await session.execute(select(1))
        await session.commit()
    # (After an autocommit checkout SQLAlchemy restores the server's default level by name.)
    assert [message.split()[0].rstrip(";") for message in messages] == ["BEGIN", "COMMIT"]


async def test_read_only_sessions_refuse_every_write(database: Database) -> None:
    async with database.sessionmaker() as session:
        refuse_writes(session)
        session.add(School(name="只读小学"))
        with pytest.raises(ReadOnlySessionWrite):
            await session.flush()
        await session.rollback()
        with pytest.raises(ReadOnlySessionWrite):
            await session.execute(insert(School).values(name="只读中学"))
        assert await session.scalar(select(School.id).where(School.name.like("只读%"))) is None
    async with database.sessionmaker() as session:
        assert await session.scalar(select(School.id).where(School.name.like("只读%"))) is None


async def test_a_connection_used_a_moment_ago_is_not_pinged(postgres_engine: AsyncEngine) -> None:
    messages = log_messages(postgres_engine)
    sessions = create_read_sessionmaker(postgres_engine)
    for _ in range(3):
        async with sessions() as session:
            await session.execute(select(1))
    assert messages == []


async def test_an_idle_connection_the_server_closed_is_replaced_before_use(
    postgres_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = create_read_sessionmaker(postgres_engine)
    monkeypatch.setattr(storage_database, "PING_AFTER_IDLE_S", 0.0)
    pids = []
    for _ in range(2):  # pinged, answers, kept
        async with sessions() as session:
            pids.append((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    assert pids[0] == pids[1]
    async with sessions() as session:
        first_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    # The server ends that connection while it waits in the pool (a restart, an idle timeout).
    async with another_connection(postgres_engine) as admin:
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
    async with sessions() as session:
        second_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    assert second_pid != first_pid


@asynccontextmanager
async def another_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    other = create_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        async with other.connect() as connection:
            yield connection
    finally:
        await other.dispose()
