"""All SQL for search's own data: the district's synonym groups, and names for facet values."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import School
from storage.models.search import SynonymGroup


class SynonymRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[SynonymGroup]:
        return list(
            (await self.session.scalars(select(SynonymGroup).order_by(SynonymGroup.created_at))).all()
        )

    def add(self, group: SynonymGroup) -> SynonymGroup:
        self.session.add(group)
        return group

    async def delete(self, group_id: uuid.UUID) -> bool:
        result = await self.session.execute(delete(SynonymGroup).where(SynonymGroup.id == group_id))
        return bool(getattr(result, "rowcount", 0))


class FacetLabelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def school_names(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            return {}
        rows = await self.session.execute(select(School.id, School.name).where(School.id.in_(ids)))
        return {row.id: row.name for row in rows}
