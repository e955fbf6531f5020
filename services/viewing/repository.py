"""All SQL for watch time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import Role, User
from storage.models.resources import FilePurpose, ResourceFile, ResourceVersion
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

    async def of_users(
        self, file_ids: Sequence[uuid.UUID], user_ids: Sequence[uuid.UUID]
    ) -> list[WatchProgress]:
        """What each of these signed-in viewers watched of each of these recordings."""
        if not file_ids or not user_ids:
            return []
        rows = await self.session.scalars(
            select(WatchProgress).where(
                WatchProgress.file_id.in_(set(file_ids)), WatchProgress.viewer_id.in_(set(user_ids))
            )
        )
        return list(rows.all())

    async def current_videos(self, resource_ids: Sequence[uuid.UUID]) -> list[ResourceFile]:
        """The primary video of each resource's newest round (resources without one are left out)."""
        if not resource_ids:
            return []
        newest = (
            select(ResourceVersion.resource_id, func.max(ResourceVersion.number).label("number"))
            .where(ResourceVersion.resource_id.in_(set(resource_ids)))
            .group_by(ResourceVersion.resource_id)
            .subquery()
        )
        rows = await self.session.scalars(
            select(ResourceFile)
            .join(ResourceVersion, ResourceVersion.id == ResourceFile.version_id)
            .join(
                newest,
                (newest.c.resource_id == ResourceVersion.resource_id)
                & (newest.c.number == ResourceVersion.number),
            )
            .where(ResourceFile.purpose == FilePurpose.primary, ResourceFile.category == "video")
            .order_by(ResourceFile.created_at)
        )
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
