"""All SQL for notifications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import User
from storage.models.research import Notification


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add_all(self, notifications: Sequence[Notification]) -> None:
        self.session.add_all(notifications)

    async def inbox(
        self, user_id: uuid.UUID, *, unread_only: bool, offset: int, limit: int
    ) -> tuple[list[Notification], int]:
        query = select(Notification).where(Notification.user_id == user_id)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(Notification.created_at.desc(), Notification.id).offset(offset).limit(limit)
        )
        return list(rows.all()), int(total or 0)

    async def unread_count(self, user_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        return int(count or 0)

    async def mark_read(self, user_id: uuid.UUID, ids: Sequence[uuid.UUID] | None, now: datetime) -> int:
        statement = update(Notification).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
        if ids is not None:
            statement = statement.where(Notification.id.in_(ids))
        result = await self.session.execute(
            statement.values(read_at=now).execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def active_user_ids_by_username(self, lowered: Sequence[str]) -> dict[str, uuid.UUID]:
        """Lower-cased username → id of the active users among these (lower-cased) names."""
        if not lowered:
            return {}
        rows = await self.session.execute(
            select(func.lower(User.username), User.id).where(
                func.lower(User.username).in_(lowered), User.is_active.is_(True)
            )
        )
        return {username: user_id for username, user_id in rows.all()}
