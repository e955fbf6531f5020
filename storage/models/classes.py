"""Classes (班级): a school's 年级 + 班号 in one school year, their students and their teachers."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base, Timestamps, UUIDPrimaryKey


class SchoolClass(UUIDPrimaryKey, Timestamps, Base):
    """一年级五班 of the 2026 school year (2026–2027学年). Promotion makes next year's 二年级五班 a
    new row, so last year's assignments keep pointing at the class they were given to."""

    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("school_id", "school_year", "grade", "number"),)

    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"), index=True)
    # The calendar year the school year starts in (September).
    school_year: Mapped[int]
    grade: Mapped[int]
    number: Mapped[int]
    # 班主任
    head_teacher_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The class it was promoted from, if any.
    previous_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"))


class ClassStudent(Base):
    """A student in a class; one class per student and school year (the unique constraint)."""

    __tablename__ = "class_students"
    __table_args__ = (UniqueConstraint("student_id", "school_year"),)

    class_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    school_year: Mapped[int]


class ClassTeacher(Base):
    """A teacher teaching a class in a subject (任课教师)."""

    __tablename__ = "class_teachers"
    __table_args__ = (Index("ix_class_teachers_teacher", "teacher_id"),)

    class_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True
    )
    teacher_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(32), primary_key=True)
