"""All SQL for the search outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import utcnow
from storage.models.search import SearchOutbox


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, parent_type: str, parent_id: uuid.UUID) -> None:
        self.session.add(SearchOutbox(parent_type=parent_type, parent_id=parent_id))

    async def claim(self, limit: int) -> list[SearchOutbox]:
        """Due entries, locked so that concurrent workers take different ones."""
        rows = await self.session.scalars(
            select(SearchOutbox)
            .where(SearchOutbox.run_after <= utcnow())
            .order_by(SearchOutbox.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows.all())

    async def remove(self, entry_ids: Sequence[int]) -> None:
        await self.session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(entry_ids)))

    async def postpone(self, entry_ids: Sequence[int], error: str, now: datetime) -> None:
        # Backoff grows with attempts but stays short: the index should catch up soon after a restart.
        for entry in await self.session.scalars(select(SearchOutbox).where(SearchOutbox.id.in_(entry_ids))):
            entry.attempts += 1
            entry.last_error = error[:2000]
            entry.run_after = now + timedelta(seconds=min(60, 2 ** min(entry.attempts, 6)))

    async def pending(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(SearchOutbox)) or 0)

    async def retry_now(self) -> None:
        await self.session.execute(update(SearchOutbox).values(run_after=utcnow()))
