"""All SQL for blob deletions and the schedule of periodic duties."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.maintenance import BlobDeletion, MaintenanceRun


class BlobDeletionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, keys: Sequence[str | None]) -> None:
        self.session.add_all(BlobDeletion(blob_key=key) for key in keys if key)

    async def claim(self, limit: int) -> list[BlobDeletion]:
        rows = await self.session.scalars(
            select(BlobDeletion).order_by(BlobDeletion.id).limit(limit).with_for_update(skip_locked=True)
        )
        return list(rows.all())

    async def pending_keys(self, keys: Sequence[str]) -> set[str]:
        rows = await self.session.scalars(
            select(BlobDeletion.blob_key).where(BlobDeletion.blob_key.in_(keys))
        )
        return set(rows.all())

    async def remove(self, ids: Sequence[int]) -> None:
        await self.session.execute(delete(BlobDeletion).where(BlobDeletion.id.in_(ids)))


class MaintenanceRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take_turn(self, name: str, now: datetime, interval: timedelta) -> bool:
        """True for exactly one caller per interval, across every worker process."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(MaintenanceRun).values(name=name, last_run_at=now))
            return True
        except IntegrityError:
            pass
        result = await self.session.execute(
            update(MaintenanceRun)
            .where(
                MaintenanceRun.name == name,
                or_(MaintenanceRun.last_run_at <= now - interval, MaintenanceRun.last_run_at > now),
            )
            .values(last_run_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
