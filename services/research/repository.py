"""All SQL the teaching-research domains share: the edit history of topics, posts and review comments."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.research import Revision


class RevisionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, revision: Revision) -> None:
        self.session.add(revision)

    async def history(self, object_type: str, object_id: uuid.UUID) -> list[Revision]:
        """The object's revisions, newest first."""
        rows = await self.session.scalars(
            select(Revision)
            .where(Revision.object_type == object_type, Revision.object_id == object_id)
            .order_by(Revision.created_at.desc(), Revision.id)
        )
        return list(rows.all())
