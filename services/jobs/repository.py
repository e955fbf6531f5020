"""All SQL for the job queue."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import utcnow
from storage.models.jobs import Job, JobStatus

ABANDONED_ERROR = (
    "Gave up: the worker running its last attempt stopped without finishing "
    "(a crash, out of memory, or a lost node)"
)


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
            # A worker that died mid-job (SIGKILL, lost node) leaves its lease to expire; the job is
            # taken over while it has attempts left (they are counted at claim). One whose every
            # attempt ended that way is crashing its workers (a decoder segfault, out of memory):
            # it is failed by take_abandoned instead of being run again forever.
            and_(
                Job.status == JobStatus.running,
                Job.locked_until < now,
                Job.attempts < Job.max_attempts,
            ),
        )

    @staticmethod
    def _abandoned(now: datetime) -> Any:
        return and_(
            Job.status == JobStatus.running,
            Job.locked_until < now,
            Job.attempts >= Job.max_attempts,
        )

    async def take_abandoned(self, *, limit: int, kinds: Sequence[str]) -> list[Job]:
        """Fail the jobs whose last attempt's worker vanished; the caller runs their failure hooks in
        this same transaction, so a job is never failed without them."""
        now = utcnow()
        candidates = (
            select(Job.id)
            .where(self._abandoned(now), Job.kind.in_(kinds))
            .order_by(Job.locked_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        failed: list[uuid.UUID] = []
        for job_id in (await self.session.scalars(candidates)).all():
            result = await self.session.execute(
                update(Job)
                .where(Job.id == job_id, self._abandoned(now))
                .values(
                    status=JobStatus.failed,
                    finished_at=now,
                    locked_by=None,
                    locked_until=None,
                    last_error=ABANDONED_ERROR,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                failed.append(job_id)
        if not failed:
            return []
        jobs = await self.session.scalars(
            select(Job).where(Job.id.in_(failed)).execution_options(populate_existing=True)
        )
        return list(jobs.all())

    async def renew_leases(
        self, job_ids: Collection[uuid.UUID], worker_id: str, lease: timedelta
    ) -> set[uuid.UUID]:
        """Extend this worker's leases; returns the jobs still its own (a lease that expired
        meanwhile may have gone to another worker)."""
        if not job_ids:
            return set()
        now = utcnow()
        rows = await self.session.scalars(
            update(Job)
            .where(Job.id.in_(job_ids), Job.locked_by == worker_id, Job.status == JobStatus.running)
            .values(locked_until=now + lease, updated_at=now)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        return set(rows.all())

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
        # Run in the order claimed, oldest first (the database returns them in any order).
        position = {job_id: number for number, job_id in enumerate(claimed)}
        return sorted(jobs.all(), key=lambda job: position[job.id])

    async def give_back(self, job_id: uuid.UUID, worker_id: str) -> None:
        """Queue a job this worker stopped before it finished (shutting down), its attempt not
        counted: the next worker starts it afresh at once."""
        now = utcnow()
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == JobStatus.running)
            .values(
                status=JobStatus.queued,
                attempts=Job.attempts - 1,  # counted when it was claimed
                run_after=now,
                locked_by=None,
                locked_until=None,
                updated_at=now,
            )
        )

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

    async def mark_failed(self, job: Job, worker_id: str, error: str) -> bool:
        """Queue the job again after a backoff, or fail it for good once its attempts are used up;
        True when it failed for good (and was still this worker's to fail)."""
        now = utcnow()
        final = job.attempts >= job.max_attempts
        backoff = timedelta(seconds=min(300, 2**job.attempts))
        result = await self.session.execute(
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
        return final and result.rowcount == 1  # type: ignore[attr-defined]

    async def get(self, job_id: uuid.UUID) -> Job | None:
        return await self.session.get(Job, job_id, populate_existing=True)

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.session.execute(select(Job.status, func.count()).group_by(Job.status))
        return {str(status): int(count) for status, count in rows.all()}
