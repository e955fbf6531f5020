"""All SQL for search's own data: the district's synonym groups, names for facet values, and the
current state of the resources and topics a page of hits belongs to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, literal, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import PublicationStatus, School, Visibility
from storage.models.research import Topic
from storage.models.resources import Resource
from storage.models.search import SearchOutbox, SynonymGroup

# Every search runs this, so it is built once (building a statement costs about as much CPU as
# running it): one row per group, or one row of NULL terms when there is none, each with "pending".
_TERMS_AND_PENDING = (
    select(select(SearchOutbox.id).exists().label("pending"), SynonymGroup.terms)
    .select_from(select(literal(1).label("one")).subquery())
    .outerjoin(SynonymGroup, true())
    .order_by(SynonymGroup.created_at)
)


class SynonymRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[SynonymGroup]:
        return list(
            (await self.session.scalars(select(SynonymGroup).order_by(SynonymGroup.created_at))).all()
        )

    async def all_terms(self) -> list[list[str]]:
        """The groups' terms only, oldest first: what every search reads, without loading entities."""
        rows = await self.session.execute(select(SynonymGroup.terms).order_by(SynonymGroup.created_at))
        return [list(terms) for (terms,) in rows]

    async def terms_and_pending(self) -> tuple[list[list[str]], bool]:
        """The groups' terms, and whether any change still waits in the search outbox, in one query:
        every search needs both before it asks the index."""
        # On the session's connection: a Core statement needs none of the ORM's execution path
        # (~0.1 ms of CPU less per search).
        connection = await self.session.connection()
        rows = (await connection.execute(_TERMS_AND_PENDING)).all()
        terms = [list(row.terms) for row in rows if row.terms is not None]
        return terms, bool(rows[0].pending)

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


@dataclass(frozen=True)
class ParentState:
    """What authz needs of a resource or topic, as the database has it now."""

    kind: str  # "resource" or "topic"
    id: uuid.UUID
    owner_id: uuid.UUID
    school_id: uuid.UUID | None
    visibility: Visibility
    status: PublicationStatus


class ParentStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def states(
        self, resource_ids: Sequence[uuid.UUID], topic_ids: Sequence[uuid.UUID]
    ) -> list[ParentState]:
        """One query for a whole page of hits; ids that no longer exist are simply absent."""
        selects = []
        if resource_ids:
            selects.append(
                select(
                    literal("resource").label("kind"),
                    Resource.id,
                    Resource.owner_id,
                    Resource.school_id,
                    Resource.visibility,
                    Resource.status,
                ).where(Resource.id.in_(resource_ids))
            )
        if topic_ids:
            selects.append(
                select(
                    literal("topic").label("kind"),
                    Topic.id,
                    Topic.owner_id,
                    Topic.school_id,
                    Topic.visibility,
                    Topic.status,
                ).where(Topic.id.in_(topic_ids))
            )
        if not selects:
            return []
        query = selects[0] if len(selects) == 1 else union_all(*selects)
        rows = await self.session.execute(query)
        return [
            ParentState(
                kind=row.kind,
                id=row.id,
                owner_id=row.owner_id,
                school_id=row.school_id,
                visibility=Visibility(row.visibility),
                status=PublicationStatus(row.status),
            )
            for row in rows
        ]
