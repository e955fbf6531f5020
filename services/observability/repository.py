"""All SQL of the metrics: what waits in the job queue and the search outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.jobs import Job, JobStatus
from storage.models.search import SearchOutbox


class QueueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def queued_jobs_by_kind(self) -> dict[str, tuple[int, datetime | None]]:
        """kind → (jobs waiting, when the oldest of them was queued)."""
        rows = await self.session.execute(
            select(Job.kind, func.count(), func.min(Job.created_at))
            .where(Job.status == JobStatus.queued)
            .group_by(Job.kind)
        )
        return {str(kind): (int(count), oldest) for kind, count, oldest in rows.all()}

    async def jobs_by_status(self) -> dict[str, int]:
        rows = await self.session.execute(select(Job.status, func.count()).group_by(Job.status))
        return {str(status): int(count) for status, count in rows.all()}

    async def outbox(self) -> tuple[int, datetime | None]:
        """Entries waiting and when the oldest was written."""
        row = (await self.session.execute(select(func.count(), func.min(SearchOutbox.created_at)))).one()
        return int(row[0]), row[1]
