"""All SQL for video renditions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.video import VideoRenditions


class RenditionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, renditions: VideoRenditions) -> None:
        self.session.add(renditions)

    async def of_file(self, file_id: uuid.UUID, *, for_update: bool = False) -> VideoRenditions | None:
        query = select(VideoRenditions).where(VideoRenditions.file_id == file_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query.execution_options(populate_existing=True))).first()

    async def of_files(self, file_ids: Sequence[uuid.UUID]) -> list[VideoRenditions]:
        if not file_ids:
            return []
        rows = await self.session.scalars(
            select(VideoRenditions).where(VideoRenditions.file_id.in_(file_ids))
        )
        return list(rows.all())

    async def get(self, renditions_id: uuid.UUID) -> VideoRenditions | None:
        return await self.session.get(VideoRenditions, renditions_id, populate_existing=True)

    async def remove(self, renditions: VideoRenditions) -> None:
        await self.session.execute(delete(VideoRenditions).where(VideoRenditions.id == renditions.id))

    async def live_prefixes(self, prefixes: Sequence[str]) -> set[str]:
        if not prefixes:
            return set()
        rows = await self.session.scalars(
            select(VideoRenditions.blob_prefix).where(VideoRenditions.blob_prefix.in_(prefixes))
        )
        return set(rows.all())
