"""All SQL for favorites and view history."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import AccessFilter
from services.resources.repository import readable_clause
from storage.models.library import Favorite, ViewHistory
from storage.models.resources import Resource


class LibraryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _on_postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def record_view(self, user_id: uuid.UUID, resource_id: uuid.UUID, now: datetime) -> None:
        """One row per user and resource, upserted atomically (two tabs opening it at once are fine)."""
        insert = postgresql_insert if self._on_postgresql() else sqlite_insert
        statement = insert(ViewHistory).values(
            user_id=user_id, resource_id=resource_id, viewed_at=now, views=1
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[ViewHistory.user_id, ViewHistory.resource_id],
                set_={"viewed_at": now, "views": ViewHistory.views + 1},
            )
        )

    async def add_favorite(self, user_id: uuid.UUID, resource_id: uuid.UUID, now: datetime) -> None:
        insert = postgresql_insert if self._on_postgresql() else sqlite_insert
        await self.session.execute(
            insert(Favorite)
            .values(user_id=user_id, resource_id=resource_id, created_at=now)
            .on_conflict_do_nothing(index_elements=[Favorite.user_id, Favorite.resource_id])
        )

    async def remove_favorite(self, user_id: uuid.UUID, resource_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(Favorite).where(Favorite.user_id == user_id, Favorite.resource_id == resource_id)
        )

    async def is_favorite(self, user_id: uuid.UUID, resource_id: uuid.UUID) -> bool:
        return await self.session.get(Favorite, (user_id, resource_id)) is not None

    async def favorites(
        self, user_id: uuid.UUID, access: AccessFilter, offset: int, limit: int
    ) -> tuple[list[tuple[Resource, datetime]], int]:
        """Favorites the user may still open (one made private meanwhile drops out), newest first."""
        query = (
            select(Resource, Favorite.created_at)
            .join(Favorite, Favorite.resource_id == Resource.id)
            .where(Favorite.user_id == user_id, readable_clause(access))
        )
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(Favorite.created_at.desc()).offset(offset).limit(limit)
        )
        return [(resource, at) for resource, at in rows.all()], int(total or 0)

    async def history(
        self,
        user_id: uuid.UUID,
        access: AccessFilter,
        offset: int,
        limit: int,
        resource_types: list[str] | None = None,
    ) -> tuple[list[tuple[Resource, datetime, int]], int]:
        query = (
            select(Resource, ViewHistory.viewed_at, ViewHistory.views)
            .join(ViewHistory, ViewHistory.resource_id == Resource.id)
            .where(ViewHistory.user_id == user_id, readable_clause(access))
        )
        if resource_types:
            query = query.where(Resource.resource_type.in_(resource_types))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(ViewHistory.viewed_at.desc()).offset(offset).limit(limit)
        )
        return [(resource, at, views) for resource, at, views in rows.all()], int(total or 0)

    async def clear_history(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(ViewHistory).where(ViewHistory.user_id == user_id))
