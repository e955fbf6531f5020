"""All SQL for watch time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import Role, User
from storage.models.video import WatchDay, WatchProgress


class WatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def progress(
        self, file_id: uuid.UUID, viewer_key: str, *, for_update: bool = False
    ) -> WatchProgress | None:
        query = select(WatchProgress).where(
            WatchProgress.file_id == file_id, WatchProgress.viewer_key == viewer_key
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query)).first()

    def add(self, progress: WatchProgress) -> None:
        self.session.add(progress)

    async def of_file(self, file_id: uuid.UUID) -> list[WatchProgress]:
        rows = await self.session.scalars(select(WatchProgress).where(WatchProgress.file_id == file_id))
        return list(rows.all())

    async def add_day_seconds(
        self, viewer_id: uuid.UUID, file_id: uuid.UUID, day: date, seconds: float
    ) -> None:
        row = await self.session.get(WatchDay, (viewer_id, file_id, day), with_for_update=True)
        if row is None:
            self.session.add(WatchDay(viewer_id=viewer_id, file_id=file_id, day=day, seconds=seconds))
        else:
            row.seconds += seconds

    async def students_of_school(self, school_id: uuid.UUID) -> Sequence[User]:
        rows = await self.session.scalars(
            select(User)
            .where(User.school_id == school_id, User.role == Role.student, User.is_active.is_(True))
            .order_by(User.display_name, User.username)
        )
        return rows.all()
