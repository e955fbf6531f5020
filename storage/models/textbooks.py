"""Textbook browsing (教材同步): editions a school uses, and the district's catalog of units and lessons."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base, UUIDPrimaryKey


class SchoolEdition(Base):
    """The edition (版本) a school uses for a subject, so browsing opens there."""

    __tablename__ = "school_editions"

    school_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(32), primary_key=True)
    edition: Mapped[str] = mapped_column(String(64))


class CatalogLesson(UUIDPrimaryKey, Base):
    """One lesson of the district catalog (uploaded as CSV), so lessons without resources show too."""

    __tablename__ = "catalog_lessons"
    __table_args__ = (Index("ix_catalog_lessons_book", "subject", "edition", "grade", "volume"),)

    stage: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(32))
    edition: Mapped[str] = mapped_column(String(64))
    grade: Mapped[int]
    volume: Mapped[str] = mapped_column(String(8))
    unit: Mapped[str] = mapped_column(String(100))
    lesson: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
