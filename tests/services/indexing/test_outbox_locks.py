"""Outbox locks with real concurrent transactions: on PostgreSQL drains never write one parent at once,
and on PostgreSQL and SQLite a rebuild batch and a drain never interleave."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from services.indexing.repository import OutboxRepository
from storage.database import create_engine, create_sessionmaker

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sessions(postgres_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(postgres_url, poolclass=NullPool)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


async def test_a_parent_held_by_one_drain_is_skipped_by_another(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    async with sessions() as a, a.begin():
        assert await OutboxRepository(a).lock_parents([first]) == {first}
        async with sessions() as b, b.begin():
            assert await OutboxRepository(b).lock_parents([first, second]) == {second}
    # Released with the transaction.
    async with sessions() as c, c.begin():
        assert await OutboxRepository(c).lock_parents([first, second]) == {first, second}


async def test_drains_wait_for_a_rebuild_batch_and_rebuilds_for_drains(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as rebuild:
        await OutboxRepository(rebuild).exclude_index_writes()
        async with sessions() as drain, drain.begin():
            waiting = asyncio.create_task(OutboxRepository(drain).share_index_writes())
            await asyncio.sleep(0.5)
            assert not waiting.done()
            await rebuild.commit()
            await asyncio.wait_for(waiting, 10)
            # Two drains share; a rebuild batch now waits for them.
            async with sessions() as other_drain, other_drain.begin():
                await asyncio.wait_for(OutboxRepository(other_drain).share_index_writes(), 10)
            blocked = asyncio.create_task(OutboxRepository(rebuild).exclude_index_writes())
            await asyncio.sleep(0.5)
            assert not blocked.done()
        await asyncio.wait_for(blocked, 10)
        await rebuild.rollback()


async def test_on_a_sqlite_file_drains_and_rebuild_batches_take_turns(tmp_path: Path) -> None:
    # Two engines stand for two processes (`jiaoyun serve` and `jiaoyun reindex`) on one file.
    url = f"sqlite+aiosqlite:///{tmp_path / 'jiaoyun.db'}"
    engines = [create_engine(url), create_engine(url)]
    rebuild_sessions, drain_sessions = (create_sessionmaker(engine) for engine in engines)
    try:
        async with rebuild_sessions() as rebuild, drain_sessions() as drain:
            await OutboxRepository(rebuild).exclude_index_writes()
            waiting = asyncio.create_task(OutboxRepository(drain).share_index_writes())
            await asyncio.sleep(0.5)
            assert not waiting.done()
            await rebuild.commit()
            await asyncio.wait_for(waiting, 10)
            # Drains hold it alone too: SQLite has no per-parent locks to keep two drains apart.
            blocked = asyncio.create_task(OutboxRepository(rebuild).exclude_index_writes())
            await asyncio.sleep(0.5)
            assert not blocked.done()
            await drain.rollback()
            await asyncio.wait_for(blocked, 10)
            await rebuild.rollback()
        async with drain_sessions() as drain:
            # Released with the transaction, however it ended.
            await asyncio.wait_for(OutboxRepository(drain).exclude_index_writes(), 10)
    finally:
        for engine in engines:
            await engine.dispose()
