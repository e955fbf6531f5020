from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.context import AppContext
from services.jobs.repository import ABANDONED_ERROR, JobRepository
from services.jobs.worker import Worker
from storage.database import utcnow
from storage.models.jobs import Job, JobStatus
from tests.stacks import Database, settings_for_tests, sqlite_database

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

    gave_up: list[tuple[uuid.UUID, str | None]] = []

    async def record(_: AsyncSession, failed: Job) -> None:
        gave_up.append((failed.id, failed.last_error))

    job = await enqueue(database, "explode")
    worker = Worker(
        _context(database, tmp_path), handlers={"explode": explode}, failure_hooks={"explode": record}
    )
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
            assert gave_up == []
    assert (await reload(database, job)).status == JobStatus.failed
    # Once, when the last attempt failed, with its error: the hook records it on what the job was for.
    assert len(gave_up) == 1 and gave_up[0][0] == job.id
    assert gave_up[0][1] is not None and "corrupt file" in gave_up[0][1]


async def test_a_job_that_kills_its_worker_every_time_is_failed_not_retried_forever(
    database: Database, tmp_path: Path
) -> None:
    """A file that segfaults the decoder takes its worker down before any error is recorded."""
    ran: list[str] = []

    async def work(_: AppContext, __: dict[str, Any]) -> None:
        ran.append("x")

    gave_up: list[Job] = []

    async def record(_: AsyncSession, failed: Job) -> None:
        gave_up.append(failed)

    job = await enqueue(database, "crashy")  # three attempts
    for dead_worker in ("w1", "w2", "w3"):
        async with database.sessionmaker() as session, session.begin():
            claimed = await JobRepository(session).claim(
                dead_worker, limit=1, lease=timedelta(seconds=-1), kinds=["crashy"]
            )
        assert [j.id for j in claimed] == [job.id], dead_worker
    async with database.sessionmaker() as session, session.begin():
        # Its attempts are used up: no worker takes it again.
        assert (
            await JobRepository(session).claim("w4", limit=1, lease=timedelta(minutes=5), kinds=["crashy"])
            == []
        )

    worker = Worker(_context(database, tmp_path), handlers={"crashy": work}, failure_hooks={"crashy": record})
    await worker.run_until_idle()

    assert ran == []
    failed = await reload(database, job)
    assert (failed.status, failed.attempts, failed.last_error) == (JobStatus.failed, 3, ABANDONED_ERROR)
    assert [j.id for j in gave_up] == [job.id]
    assert await worker.run_until_idle() == 0 and len(gave_up) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
async def own_connections(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on connections of their own (the `database` fixture's PostgreSQL sessions share one
    connection, which two workers renewing and claiming at the same moment cannot)."""
    if request.param == "sqlite":
        async with sqlite_database(request.getfixturevalue("sqlite_template"), tmp_path) as db:
            yield db.sessionmaker
        return
    engine = create_async_engine(request.getfixturevalue("postgres_url"), pool_size=5)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        yield sessions
    finally:
        async with sessions() as session, session.begin():
            await session.execute(delete(Job).where(Job.kind.in_(["long", "taken", "transcode", "document"])))
        await engine.dispose()


def _context_on(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> AppContext:
    """Workers on these sessions commit for real: they run no periodic duties (gc would take its turn
    in the database other tests share)."""
    return AppContext(
        settings=settings_for_tests(tmp_path),
        engine=None,  # type: ignore[arg-type]
        sessionmaker=sessions,
        blob_store=None,  # type: ignore[arg-type]
        search_index=None,  # type: ignore[arg-type]
        link_signer=None,  # type: ignore[arg-type]
    )


async def test_a_job_longer_than_its_lease_keeps_it_and_runs_once(
    own_connections: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    sessions = own_connections
    ran: list[str] = []

    async def long(_: AppContext, __: dict[str, Any]) -> None:
        ran.append("x")
        await asyncio.sleep(2.5)

    async with sessions() as session, session.begin():
        job = JobRepository(session).add("long", {})
    lease = timedelta(seconds=1)
    worker = Worker(
        _context_on(sessions, tmp_path),
        lease=lease,
        handlers={"long": long},
        periodic_tasks=[],
        own_schedule_tasks=[],
    )
    running = asyncio.create_task(worker.run_once())
    # Another worker keeps asking while the first works on, for more than two lease periods.
    while not running.done():
        await asyncio.sleep(0.2)
        async with sessions() as session, session.begin():
            assert await JobRepository(session).claim("rival", limit=1, lease=lease, kinds=["long"]) == []
    assert await running == 1
    async with sessions() as session:
        finished = await JobRepository(session).get(job.id)
    assert finished is not None
    assert (finished.status, finished.attempts, ran) == (JobStatus.succeeded, 1, ["x"])


async def test_a_worker_that_lost_its_lease_stops_the_job(
    own_connections: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Its lease ran out (the database was away) and another worker took the job: it must not run twice."""
    sessions = own_connections
    stopped: list[str] = []

    async def slow(_: AppContext, __: dict[str, Any]) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.append("cancelled")
            raise

    async with sessions() as session, session.begin():
        job = JobRepository(session).add("taken", {})
    worker = Worker(
        _context_on(sessions, tmp_path),
        lease=timedelta(seconds=0.6),
        handlers={"taken": slow},
        periodic_tasks=[],
        own_schedule_tasks=[],
    )
    running = asyncio.create_task(worker.run_once())
    await asyncio.sleep(0.1)
    async with sessions() as session, session.begin():
        await session.execute(update(Job).where(Job.id == job.id).values(locked_by="new-owner"))
    await asyncio.wait_for(running, timeout=5)

    assert stopped == ["cancelled"]
    async with sessions() as session:
        current = await JobRepository(session).get(job.id)
    assert current is not None and (current.status, current.locked_by) == (JobStatus.running, "new-owner")


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


async def test_duties_on_their_own_schedule_keep_running_while_a_job_is_slow(
    database: Database, tmp_path: Path
) -> None:
    """The search outbox must not wait behind a file that takes minutes: its drain runs beside jobs."""
    rounds_during_job: list[int] = []
    rounds = 0

    async def duty(_: AppContext) -> int:
        nonlocal rounds
        rounds += 1
        return 0

    async def slow(_: AppContext, __: dict[str, Any]) -> None:
        before = rounds
        await asyncio.sleep(2)  # a child process reading a hostile file, say
        rounds_during_job.append(rounds - before)

    job = await enqueue(database, "slow")
    context = _context(database, tmp_path)
    context.settings.search_outbox_interval_s = 0.1
    worker = Worker(context, handlers={"slow": slow}, periodic_tasks=[], own_schedule_tasks=[duty])
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    try:
        for _ in range(100):
            if rounds_during_job:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    assert rounds_during_job and rounds_during_job[0] >= 5, rounds_during_job
    assert (await reload(database, job)).status == JobStatus.succeeded


async def test_a_batch_runs_in_the_order_its_jobs_were_queued(database: Database, tmp_path: Path) -> None:
    ran: list[int] = []

    async def record(_: AppContext, payload: dict[str, Any]) -> None:
        ran.append(payload["n"])

    for number in range(8):
        await enqueue(database, "ordered", {"n": number})
    worker = Worker(
        _context(database, tmp_path), handlers={"ordered": record}, periodic_tasks=[], own_schedule_tasks=[]
    )
    await worker.run_until_idle()
    assert ran == list(range(8))


async def test_a_long_job_runs_beside_the_batches_and_keeps_its_lease(
    own_connections: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """A transcode claimed first must not hold up the documents queued after it: it has a lane of
    its own, and its lease is renewed for as long as it runs."""
    sessions = own_connections
    documents: list[int] = []
    transcoding = asyncio.Event()
    may_finish = asyncio.Event()

    async def transcode(_: AppContext, __: dict[str, Any]) -> None:
        transcoding.set()
        await may_finish.wait()

    async def document(_: AppContext, payload: dict[str, Any]) -> None:
        documents.append(payload["n"])

    async with sessions() as session, session.begin():
        long_job = JobRepository(session).add("transcode", {})
    await asyncio.sleep(0.01)  # queued strictly before the documents
    async with sessions() as session, session.begin():
        for number in range(6):
            JobRepository(session).add("document", {"n": number})
    context = _context_on(sessions, tmp_path)
    context.settings.worker_poll_interval_s = 0.1
    lease = timedelta(seconds=0.6)
    worker = Worker(
        context,
        lease=lease,
        handlers={"transcode": transcode, "document": document},
        periodic_tasks=[],
        own_schedule_tasks=[],
        long_running={"transcode"},
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    try:
        await asyncio.wait_for(transcoding.wait(), 10)
        for _ in range(100):
            if len(documents) == 6:
                break
            await asyncio.sleep(0.1)
        assert documents == list(range(6))  # all while the transcode still runs
        # Held well past its lease: no other worker gets it.
        await asyncio.sleep(2 * lease.total_seconds())
        async with sessions() as session, session.begin():
            assert (
                await JobRepository(session).claim("rival", limit=1, lease=lease, kinds=["transcode"]) == []
            )
        may_finish.set()
        for _ in range(100):
            async with sessions() as session:
                finished = await JobRepository(session).get(long_job.id)
            assert finished is not None
            if finished.status == JobStatus.succeeded:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    assert finished is not None
    assert (finished.status, finished.attempts) == (JobStatus.succeeded, 1)


async def test_a_stopping_worker_gives_its_long_job_back_to_the_queue(
    own_connections: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    sessions = own_connections
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def transcode(_: AppContext, __: dict[str, Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async with sessions() as session, session.begin():
        job = JobRepository(session).add("transcode", {})
    context = _context_on(sessions, tmp_path)
    context.settings.worker_poll_interval_s = 0.1
    worker = Worker(
        context,
        handlers={"transcode": transcode},
        periodic_tasks=[],
        own_schedule_tasks=[],
        long_running={"transcode"},
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop))
    await asyncio.wait_for(started.wait(), 10)
    stop.set()
    await asyncio.wait_for(running, 10)
    async with sessions() as session:
        again = await JobRepository(session).get(job.id)
    assert again is not None
    assert cancelled == [True]
    # Queued for the next worker at once, the interrupted attempt not counted.
    assert (again.status, again.attempts, again.locked_by) == (JobStatus.queued, 0, None)


async def test_without_a_lane_of_its_own_a_long_job_still_runs_until_idle(
    database: Database, tmp_path: Path
) -> None:
    ran: list[str] = []

    async def record(_: AppContext, payload: dict[str, Any]) -> None:
        ran.append(payload["kind"])

    await enqueue(database, "transcode", {"kind": "transcode"})
    await enqueue(database, "document", {"kind": "document"})
    worker = Worker(
        _context(database, tmp_path),
        handlers={"transcode": record, "document": record},
        periodic_tasks=[],
        own_schedule_tasks=[],
        long_running={"transcode"},
    )
    assert await worker.run_until_idle() == 2
    assert sorted(ran) == ["document", "transcode"]
    # A worker with no long-job slot leaves them to others.
    await enqueue(database, "transcode", {"kind": "transcode"})
    idle = Worker(
        _context(database, tmp_path),
        handlers={"transcode": record},
        periodic_tasks=[],
        own_schedule_tasks=[],
        long_running={"transcode"},
        long_job_slots=0,
    )
    assert await idle.run_until_idle() == 0
