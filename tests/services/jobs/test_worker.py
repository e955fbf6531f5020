from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from services.context import AppContext
from services.jobs.repository import JobRepository
from services.jobs.worker import Worker
from storage.database import utcnow
from storage.models.jobs import Job, JobStatus
from tests.stacks import Database, settings_for_tests

pytestmark = pytest.mark.anyio


async def enqueue(database: Database, kind: str, payload: dict[str, Any] | None = None) -> Job:
    async with database.sessionmaker() as session, session.begin():
        return JobRepository(session).add(kind, payload or {}, max_attempts=3)


async def reload(database: Database, job: Job) -> Job:
    async with database.sessionmaker() as session:
        found = await JobRepository(session).get(job.id)
        assert found is not None
        return found


def _context(database: Database, tmp_path: Path) -> AppContext:
    """The worker only needs the database here; the handlers under test use nothing else."""
    return AppContext(
        settings=settings_for_tests(tmp_path),
        engine=database.engine,
        sessionmaker=database.sessionmaker,
        blob_store=None,  # type: ignore[arg-type]
        search_index=None,  # type: ignore[arg-type]
        link_signer=None,  # type: ignore[arg-type]
    )


async def test_runs_a_queued_job(database: Database, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def record(_: AppContext, payload: dict[str, Any]) -> None:
        seen.append(payload)

    job = await enqueue(database, "record", {"n": 1})
    worker = Worker(_context(database, tmp_path), handlers={"record": record})
    assert await worker.run_until_idle() == 1
    assert seen == [{"n": 1}]
    finished = await reload(database, job)
    assert finished.status == JobStatus.succeeded
    assert finished.attempts == 1


async def test_failures_are_retried_with_backoff_then_given_up(database: Database, tmp_path: Path) -> None:
    async def explode(_: AppContext, __: dict[str, Any]) -> None:
        raise ValueError("corrupt file")

    job = await enqueue(database, "explode")
    worker = Worker(_context(database, tmp_path), handlers={"explode": explode})
    for attempt in range(1, 4):
        await worker.run_once()
        current = await reload(database, job)
        assert current.attempts == attempt
        assert current.last_error is not None and "corrupt file" in current.last_error
        if attempt < 3:
            assert current.status == JobStatus.queued
            assert current.run_after > utcnow()
            # Skip the backoff wait.
            async with database.sessionmaker() as session, session.begin():
                await session.execute(update(Job).where(Job.id == job.id).values(run_after=utcnow()))
    assert (await reload(database, job)).status == JobStatus.failed


async def test_a_dead_workers_job_is_reclaimed_after_its_lease(database: Database, tmp_path: Path) -> None:
    ran: list[str] = []

    async def work(_: AppContext, __: dict[str, Any]) -> None:
        ran.append("x")

    job = await enqueue(database, "work")
    context = _context(database, tmp_path)
    async with database.sessionmaker() as session, session.begin():
        claimed = await JobRepository(session).claim(
            "dead-worker", limit=1, lease=timedelta(seconds=-1), kinds=["work"]
        )
    assert [j.id for j in claimed] == [job.id]
    assert await Worker(context, handlers={"work": work}).run_until_idle() == 1
    assert ran == ["x"]
    finished = await reload(database, job)
    assert (finished.status, finished.attempts) == (JobStatus.succeeded, 2)


async def test_a_leased_job_is_not_claimed_twice(database: Database) -> None:
    await enqueue(database, "work")
    async with database.sessionmaker() as session, session.begin():
        first = await JobRepository(session).claim("w1", limit=5, lease=timedelta(minutes=5), kinds=["work"])
    async with database.sessionmaker() as session, session.begin():
        second = await JobRepository(session).claim("w2", limit=5, lease=timedelta(minutes=5), kinds=["work"])
    assert len(first) == 1
    assert second == []


async def test_concurrent_workers_share_jobs_without_overlap(postgres_url: str) -> None:
    """On PostgreSQL, FOR UPDATE SKIP LOCKED: parallel claimers get disjoint jobs, none left behind."""
    engine = create_async_engine(postgres_url, pool_size=10)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session, session.begin():
            repository = JobRepository(session)
            for n in range(40):
                repository.add("parallel", {"n": n})

        async def claim_all(worker_id: str) -> list[int]:
            taken: list[int] = []
            while True:
                async with sessions() as session, session.begin():
                    jobs = await JobRepository(session).claim(
                        worker_id, limit=3, lease=timedelta(minutes=5), kinds=["parallel"]
                    )
                if not jobs:
                    return taken
                taken.extend(int(job.payload["n"]) for job in jobs)

        results = await asyncio.gather(*(claim_all(f"w{i}") for i in range(4)))
        everything = [n for taken in results for n in taken]
        assert sorted(everything) == list(range(40))
    finally:
        async with sessions() as session, session.begin():
            await session.execute(delete(Job).where(Job.kind == "parallel"))
        await engine.dispose()
