"""The background worker: claims queued jobs from the database and runs their handlers.

Any number of workers may run against PostgreSQL; each claims rows with FOR UPDATE SKIP LOCKED and
holds a lease, renewed while it works through its batch, so a long job is never taken over while
its worker lives, and a killed worker's jobs are picked up again once the lease runs out. A job
whose attempts are used up (by errors, or by workers dying under it) fails for good, and its kind's
failure hook records that on what the job was about, in the same transaction.

Duties that must never wait behind a job (draining the search outbox: a resource made private must
leave search at once, not after the file ahead of it in the queue) run on a schedule of their own:
`run_forever` gives each an asyncio task that repeats it at once while it finds work, and every
`search_outbox_interval_s` otherwise. Jobs run their slow parts in child processes or threads, so
the event loop, and with it that task, stays free while they work.

Long jobs (a kind registered with `long_running=True`: transcoding a 45-minute lesson) never share a
batch with the others: a batch runs its jobs one after another, so a transcode would hold up the
documents and indexing claimed with it. They have a lane of their own: `worker_long_job_slots`
tasks, each claiming one long job at a time and running it beside the batches, its lease renewed
for as long as it runs. Asked to stop, a worker puts the long jobs it is running back in the queue
(the attempt not counted) for the next worker, rather than holding the shutdown for an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.context import AppContext
from services.jobs.repository import JobRepository
from services.observability import metrics
from services.observability.logs import log_context
from storage.models.jobs import Job

logger = logging.getLogger(__name__)

JobHandler = Callable[[AppContext, dict[str, Any]], Awaitable[None]]
# Called once a job has failed for good (last_error says why), inside the transaction failing it.
FailureHook = Callable[[AsyncSession, Job], Awaitable[None]]
# Periodic duties (outbox draining, cleanups) that run on every poll, beside queued jobs.
PeriodicTask = Callable[[AppContext], Awaitable[int]]

# Leases are renewed this many times per lease period, so one missed renewal costs nothing.
RENEWALS_PER_LEASE = 3

JOB_HANDLERS: dict[str, JobHandler] = {}
FAILURE_HOOKS: dict[str, FailureHook] = {}
# Kinds run in the long-job lane, never in a batch (see the module's docstring).
LONG_RUNNING_KINDS: set[str] = set()
PERIODIC_TASKS: list[PeriodicTask] = []
# Duties on a schedule of their own, never behind a job (see the module's docstring).
OWN_SCHEDULE_TASKS: list[PeriodicTask] = []


def job_handler(kind: str, *, long_running: bool = False) -> Callable[[JobHandler], JobHandler]:
    def register(function: JobHandler) -> JobHandler:
        JOB_HANDLERS[kind] = function
        if long_running:
            LONG_RUNNING_KINDS.add(kind)
        return function

    return register


def job_failure_hook(kind: str) -> Callable[[FailureHook], FailureHook]:
    def register(function: FailureHook) -> FailureHook:
        FAILURE_HOOKS[kind] = function
        return function

    return register


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        context: AppContext,
        *,
        worker_id: str | None = None,
        batch_size: int = 4,
        lease: timedelta | None = None,
        handlers: dict[str, JobHandler] | None = None,
        failure_hooks: dict[str, FailureHook] | None = None,
        periodic_tasks: list[PeriodicTask] | None = None,
        own_schedule_tasks: list[PeriodicTask] | None = None,
        long_running: Collection[str] | None = None,
        long_job_slots: int | None = None,
    ) -> None:
        self.context = context
        self.worker_id = worker_id or new_worker_id()
        self.batch_size = batch_size
        self.lease = lease if lease is not None else timedelta(seconds=context.settings.worker_lease_s)
        self.handlers = handlers if handlers is not None else JOB_HANDLERS
        self.failure_hooks = failure_hooks if failure_hooks is not None else FAILURE_HOOKS
        self.periodic_tasks = periodic_tasks if periodic_tasks is not None else PERIODIC_TASKS
        self.own_schedule_tasks = own_schedule_tasks if own_schedule_tasks is not None else OWN_SCHEDULE_TASKS
        long_kinds = LONG_RUNNING_KINDS if long_running is None else long_running
        self.long_kinds = [kind for kind in self.handlers if kind in long_kinds]
        self.batch_kinds = [kind for kind in self.handlers if kind not in long_kinds]
        self.long_job_slots = (
            context.settings.worker_long_job_slots if long_job_slots is None else long_job_slots
        )
        # Set while run_forever runs them in tasks of their own; run_once then leaves them alone.
        self._own_schedules_running = False
        self._long_lanes_running = False

    async def _claim(self, kinds: list[str], limit: int) -> list[Job]:
        if not kinds or limit <= 0:
            return []
        async with self.context.sessionmaker() as session, session.begin():
            return await JobRepository(session).claim(
                self.worker_id, limit=limit, lease=self.lease, kinds=kinds
            )

    async def _failed_for_good(self, session: AsyncSession, job: Job) -> None:
        logger.error("job %s (%s) failed for good after %s attempts", job.id, job.kind, job.attempts)
        hook = self.failure_hooks.get(job.kind)
        if hook is not None:
            await hook(session, job)

    async def _fail_abandoned(self) -> int:
        async with self.context.sessionmaker() as session, session.begin():
            jobs = await JobRepository(session).take_abandoned(
                limit=self.batch_size, kinds=list(self.handlers)
            )
            for job in jobs:
                await self._failed_for_good(session, job)
        return len(jobs)

    async def _run_job(self, job: Job, leases: _Leases) -> None:
        # Every line logged while it runs names the job (and, once its handler binds it, the file).
        with log_context(job_id=str(job.id), job_kind=job.kind):
            outcome = await self._run_job_logged(job, leases)
        metrics.jobs_finished.labels(job.kind, outcome).inc()

    async def _run_job_logged(self, job: Job, leases: _Leases) -> str:
        handler = self.handlers[job.kind]
        running: asyncio.Future[None] = asyncio.ensure_future(handler(self.context, job.payload))
        leases.running = (job.id, running)
        try:
            await running
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if job.id in leases.lost and not (current is not None and current.cancelling()):
                # Its lease ran out (the database was unreachable for that long) and another
                # worker may run it now; stop rather than run it twice at once.
                logger.warning("job %s (%s): lease lost, left to its new worker", job.id, job.kind)
                return "lease_lost"
            raise
        except Exception as exc:
            logger.warning("job %s (%s) failed on attempt %s: %s", job.id, job.kind, job.attempts, exc)
            error = "".join(traceback.format_exception_only(exc)).strip()
            async with self.context.sessionmaker() as session, session.begin():
                if await JobRepository(session).mark_failed(job, self.worker_id, error):
                    job.last_error = error
                    await self._failed_for_good(session, job)
                    return "failed"
            return "retried"
        finally:
            leases.running = None
            leases.release(job.id)
        async with self.context.sessionmaker() as session, session.begin():
            await JobRepository(session).mark_succeeded(job.id, self.worker_id)
        return "succeeded"

    async def _run_batch(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        leases = _Leases(self, jobs)
        renewing = asyncio.create_task(leases.keep())
        try:
            for job in jobs:
                if job.id not in leases.lost:
                    await self._run_job(job, leases)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def run_once(self) -> int:
        """Run periodic duties and one batch of jobs; returns how much work was done."""
        done = 0
        duties = self.periodic_tasks
        if not self._own_schedules_running:
            duties = [*duties, *self.own_schedule_tasks]
        for task in duties:
            try:
                done += await task(self.context)
            except Exception:
                logger.exception("periodic task %s failed", getattr(task, "__name__", task))
        done += await self._fail_abandoned()
        jobs = await self._claim(self.batch_kinds, self.batch_size)
        await self._run_batch(jobs)
        done += len(jobs)
        if not self._long_lanes_running:
            # No lane of its own (run_until_idle): a long job after the batch, one per round.
            long_jobs = await self._claim(self.long_kinds, min(1, self.long_job_slots))
            await self._run_batch(long_jobs)
            done += len(long_jobs)
        return done

    async def run_until_idle(self, *, max_rounds: int = 1000) -> int:
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            total += done
            if done == 0:
                break
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        logger.info("worker %s started", self.worker_id)
        interval = self.context.settings.worker_poll_interval_s
        own_schedules = [
            asyncio.create_task(self._repeat(task, stop), name=f"duty:{getattr(task, '__name__', task)}")
            for task in self.own_schedule_tasks
        ]
        self._own_schedules_running = True
        long_lanes = [
            asyncio.create_task(self._long_lane(stop), name=f"long-jobs:{slot}")
            for slot in range(self.long_job_slots if self.long_kinds else 0)
        ]
        self._long_lanes_running = bool(long_lanes)
        try:
            while not stop.is_set():
                try:
                    done = await self.run_once()
                except Exception:
                    # The database may be restarting; keep polling rather than dying.
                    logger.exception("worker round failed")
                    done = 0
                if done == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), interval)
        finally:
            self._own_schedules_running = False
            self._long_lanes_running = False
            if not stop.is_set():  # cancelled: the duties and the long jobs go too
                for duty in [*own_schedules, *long_lanes]:
                    duty.cancel()
            # Asked to stop, a duty finishes the round it is in (a drain commits or rolls back whole),
            # and a long job goes back to the queue.
            await asyncio.gather(*own_schedules, *long_lanes, return_exceptions=True)
        logger.info("worker %s stopped", self.worker_id)

    async def _long_lane(self, stop: asyncio.Event) -> None:
        """One slot of the long-job lane: claims one long job at a time and runs it beside the
        batches; a stop puts the job it runs back in the queue."""
        interval = self.context.settings.worker_poll_interval_s
        while not stop.is_set():
            try:
                jobs = await self._claim(self.long_kinds, 1)
            except Exception:
                logger.exception("long-job lane: claiming failed")
                jobs = []
            if not jobs:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
                continue
            running = asyncio.create_task(self._run_batch(jobs))
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                if not running.done():
                    running.cancel()
                    await asyncio.gather(running, return_exceptions=True)
                    await self._give_back(jobs)
            if running.done() and not running.cancelled() and running.exception() is not None:
                logger.error("long-job lane: running a job failed", exc_info=running.exception())

    async def _give_back(self, jobs: list[Job]) -> None:
        try:
            async with self.context.sessionmaker() as session, session.begin():
                for job in jobs:
                    await JobRepository(session).give_back(job.id, self.worker_id)
        except Exception:
            # Its lease runs out then, and another worker takes it over.
            logger.warning("worker %s: giving long jobs back failed", self.worker_id, exc_info=True)

    async def _repeat(self, task: PeriodicTask, stop: asyncio.Event) -> None:
        interval = self.context.settings.search_outbox_interval_s
        while not stop.is_set():
            try:
                done = await task(self.context)
            except Exception:
                # The database or the search backend may be away; the next round tries again.
                logger.exception("duty %s failed", getattr(task, "__name__", task))
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)


class _Leases:
    """Keeps a worker's claimed batch its own: renews every lease still held a few times per lease
    period, and notices leases lost (to a database outage longer than the lease)."""

    def __init__(self, worker: Worker, jobs: list[Job]) -> None:
        self.worker = worker
        self.held = {job.id for job in jobs}
        self.lost: set[uuid.UUID] = set()
        self.running: tuple[uuid.UUID, asyncio.Future[None]] | None = None

    def release(self, job_id: uuid.UUID) -> None:
        self.held.discard(job_id)

    async def keep(self) -> None:
        interval = self.worker.lease.total_seconds() / RENEWALS_PER_LEASE
        while self.held:
            await asyncio.sleep(interval)
            held = set(self.held)
            try:
                async with self.worker.context.sessionmaker() as session, session.begin():
                    kept = await JobRepository(session).renew_leases(
                        held, self.worker.worker_id, self.worker.lease
                    )
            except Exception:
                # The database may be restarting: try again, the lease has some time left.
                logger.warning("worker %s: renewing leases failed", self.worker.worker_id, exc_info=True)
                continue
            # Jobs released while renewing finished on their own; the others are gone.
            for job_id in held - kept - (held - self.held):
                self.lost.add(job_id)
                self.held.discard(job_id)
            if self.running is not None and self.running[0] in self.lost:
                self.running[1].cancel()
