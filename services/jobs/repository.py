"""All SQL for the job queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import utcnow
from storage.models.jobs import Job, JobStatus


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, kind: str, payload: dict[str, Any], *, max_attempts: int = 5) -> Job:
        job = Job(
            kind=kind, payload=payload, max_attempts=max_attempts, status=JobStatus.queued, run_after=utcnow()
        )
        self.session.add(job)
        return job

    @staticmethod
    def _claimable(now: datetime) -> Any:
        return or_(
            and_(Job.status == JobStatus.queued, Job.run_after <= now),
            # A worker that died mid-job (SIGKILL, lost node) leaves its lease to expire.
            and_(Job.status == JobStatus.running, Job.locked_until < now),
        )

    async def claim(self, worker_id: str, *, limit: int, lease: timedelta, kinds: Sequence[str]) -> list[Job]:
        now = utcnow()
        candidates = (
            select(Job.id)
            .where(self._claimable(now), Job.kind.in_(kinds))
            .order_by(Job.run_after)
            .limit(limit)
            # PostgreSQL: concurrent workers skip each other's rows instead of waiting; SQLite ignores
            # this and serialises writers, and the conditional UPDATE below keeps claims exclusive.
            .with_for_update(skip_locked=True)
        )
        ids = list((await self.session.scalars(candidates)).all())
        claimed: list[uuid.UUID] = []
        for job_id in ids:
            result = await self.session.execute(
                update(Job)
                .where(Job.id == job_id, self._claimable(now))
                .values(
                    status=JobStatus.running,
                    attempts=Job.attempts + 1,
                    locked_by=worker_id,
                    locked_until=now + lease,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(job_id)
        if not claimed:
            return []
        jobs = await self.session.scalars(
            select(Job).where(Job.id.in_(claimed)).execution_options(populate_existing=True)
        )
        return list(jobs.all())

    async def mark_succeeded(self, job_id: uuid.UUID, worker_id: str) -> None:
        now = utcnow()
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker_id)
            .values(
                status=JobStatus.succeeded,
                finished_at=now,
                locked_until=None,
                last_error=None,
                updated_at=now,
            )
        )

    async def mark_failed(self, job: Job, worker_id: str, error: str) -> None:
        now = utcnow()
        final = job.attempts >= job.max_attempts
        backoff = timedelta(seconds=min(300, 2**job.attempts))
        await self.session.execute(
            update(Job)
            .where(Job.id == job.id, Job.locked_by == worker_id)
            .values(
                status=JobStatus.failed if final else JobStatus.queued,
                run_after=now if final else now + backoff,
                finished_at=now if final else None,
                locked_until=None,
                last_error=error[:4000],
                updated_at=now,
            )
        )

    async def get(self, job_id: uuid.UUID) -> Job | None:
        return await self.session.get(Job, job_id, populate_existing=True)

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.session.execute(select(Job.status, func.count()).group_by(Job.status))
        return {str(status): int(count) for status, count in rows.all()}
