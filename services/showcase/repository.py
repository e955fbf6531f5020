"""All SQL for the showcase's marks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import AccessFilter
from services.resources.repository import readable_clause
from storage.models.resources import Resource
from storage.models.showcase import ExemplaryLevel, ShowcaseMark


class ShowcaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, resource_id: uuid.UUID) -> ShowcaseMark | None:
        return await self.session.get(ShowcaseMark, resource_id)

    async def by_resources(self, resource_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ShowcaseMark]:
        if not resource_ids:
            return {}
        marks = await self.session.scalars(
            select(ShowcaseMark).where(ShowcaseMark.resource_id.in_(list(resource_ids)))
        )
        return {mark.resource_id: mark for mark in marks}

    async def get_or_add(self, resource_id: uuid.UUID) -> ShowcaseMark:
        mark = await self.get(resource_id)
        if mark is None:
            mark = ShowcaseMark(resource_id=resource_id)
            self.session.add(mark)
        return mark

    async def drop_if_empty(self, mark: ShowcaseMark) -> None:
        if mark.exemplary_level is None and mark.featured_at is None:
            await self.session.delete(mark)
        await self.session.flush()

    async def listed(
        self,
        access: AccessFilter,
        *,
        featured: bool | None,
        level: ExemplaryLevel | None,
        year: int | None,
        offset: int,
        limit: int,
    ) -> tuple[list[tuple[Resource, ShowcaseMark]], int]:
        """Marked resources the reader may open: featured ones by when they were featured, exemplary
        ones by year and level (highest first), then newest."""
        conditions: list[ColumnElement[bool]] = [readable_clause(access)]
        if featured is not None:
            conditions.append(
                ShowcaseMark.featured_at.is_not(None) if featured else ShowcaseMark.featured_at.is_(None)
            )
        if level is not None:
            conditions.append(ShowcaseMark.exemplary_level == level)
        elif featured is None:
            conditions.append(ShowcaseMark.exemplary_level.is_not(None))
        if year is not None:
            conditions.append(ShowcaseMark.exemplary_year == year)
        query = select(Resource, ShowcaseMark).join(ShowcaseMark, ShowcaseMark.resource_id == Resource.id)
        query = query.where(*conditions)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        order = (
            [ShowcaseMark.featured_at.desc()]
            if featured
            else [ShowcaseMark.exemplary_year.desc(), ShowcaseMark.marked_at.desc()]
        )
        rows = await self.session.execute(query.order_by(*order, Resource.id).offset(offset).limit(limit))
        return [(resource, mark) for resource, mark in rows.all()], int(total or 0)
