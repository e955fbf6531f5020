"""The background worker: claims queued jobs from the database and runs their handlers.

Any number of workers may run against PostgreSQL; each claims rows with FOR UPDATE SKIP LOCKED and
holds a lease, so a killed worker's jobs are picked up again once the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from services.context import AppContext
from services.jobs.repository import JobRepository
from storage.models.jobs import Job

logger = logging.getLogger(__name__)

JobHandler = Callable[[AppContext, dict[str, Any]], Awaitable[None]]
# Periodic duties (outbox draining, cleanups) that run on every poll, beside queued jobs.
PeriodicTask = Callable[[AppContext], Awaitable[int]]

JOB_HANDLERS: dict[str, JobHandler] = {}
PERIODIC_TASKS: list[PeriodicTask] = []

DEFAULT_LEASE = timedelta(minutes=10)


def job_handler(kind: str) -> Callable[[JobHandler], JobHandler]:
    def register(function: JobHandler) -> JobHandler:
        JOB_HANDLERS[kind] = function
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
        lease: timedelta = DEFAULT_LEASE,
        handlers: dict[str, JobHandler] | None = None,
    ) -> None:
        self.context = context
        self.worker_id = worker_id or new_worker_id()
        self.batch_size = batch_size
        self.lease = lease
        self.handlers = handlers if handlers is not None else JOB_HANDLERS

    async def _claim(self) -> list[Job]:
        async with self.context.sessionmaker() as session, session.begin():
            return await JobRepository(session).claim(
                self.worker_id, limit=self.batch_size, lease=self.lease, kinds=list(self.handlers)
            )

    async def _run_job(self, job: Job) -> None:
        handler = self.handlers[job.kind]
        try:
            await handler(self.context, job.payload)
        except Exception as exc:
            logger.warning("job %s (%s) failed on attempt %s: %s", job.id, job.kind, job.attempts, exc)
            error = "".join(traceback.format_exception_only(exc)).strip()
            async with self.context.sessionmaker() as session, session.begin():
                await JobRepository(session).mark_failed(job, self.worker_id, error)
            return
        async with self.context.sessionmaker() as session, session.begin():
            await JobRepository(session).mark_succeeded(job.id, self.worker_id)

    async def run_once(self) -> int:
        """Run periodic duties and one batch of jobs; returns how much work was done."""
        done = 0
        for task in PERIODIC_TASKS:
            try:
                done += await task(self.context)
            except Exception:
                logger.exception("periodic task %s failed", getattr(task, "__name__", task))
        jobs = await self._claim()
        for job in jobs:
            await self._run_job(job)
        return done + len(jobs)

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
        logger.info("worker %s stopped", self.worker_id)
