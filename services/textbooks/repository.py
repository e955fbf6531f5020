"""All SQL for textbook browsing: the schools' editions and the district catalog."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.textbooks import CatalogLesson, SchoolEdition


class TextbookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def school_editions(self, school_id: uuid.UUID) -> dict[str, str]:
        rows = await self.session.scalars(select(SchoolEdition).where(SchoolEdition.school_id == school_id))
        return {row.subject: row.edition for row in rows.all()}

    async def replace_school_editions(self, school_id: uuid.UUID, editions: dict[str, str]) -> None:
        await self.session.execute(delete(SchoolEdition).where(SchoolEdition.school_id == school_id))
        self.session.add_all(
            SchoolEdition(school_id=school_id, subject=subject, edition=edition)
            for subject, edition in editions.items()
        )

    async def catalog(self, subject: str, edition: str, grade: int, volume: str) -> list[CatalogLesson]:
        rows = await self.session.scalars(
            select(CatalogLesson)
            .where(
                CatalogLesson.subject == subject,
                CatalogLesson.edition == edition,
                CatalogLesson.grade == grade,
                CatalogLesson.volume == volume,
            )
            .order_by(CatalogLesson.position)
        )
        return list(rows.all())

    async def replace_books(
        self, books: Sequence[tuple[str, str, int, str]], lessons: Sequence[CatalogLesson]
    ) -> None:
        for subject, edition, grade, volume in books:
            await self.session.execute(
                delete(CatalogLesson).where(
                    CatalogLesson.subject == subject,
                    CatalogLesson.edition == edition,
                    CatalogLesson.grade == grade,
                    CatalogLesson.volume == volume,
                )
            )
        self.session.add_all(lessons)
