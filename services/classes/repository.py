"""All SQL for classes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.assignments import AssignmentClass
from storage.models.classes import ClassStudent, ClassTeacher, SchoolClass
from storage.models.identity import User


class ClassRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, school_class: SchoolClass) -> None:
        self.session.add(school_class)

    async def get(self, class_id: uuid.UUID) -> SchoolClass | None:
        return await self.session.get(SchoolClass, class_id)

    async def by_ids(self, class_ids: Sequence[uuid.UUID]) -> list[SchoolClass]:
        if not class_ids:
            return []
        rows = await self.session.scalars(select(SchoolClass).where(SchoolClass.id.in_(class_ids)))
        return list(rows.all())

    async def find(
        self, school_id: uuid.UUID, school_year: int, grade: int, number: int
    ) -> SchoolClass | None:
        return await self.session.scalar(
            select(SchoolClass).where(
                SchoolClass.school_id == school_id,
                SchoolClass.school_year == school_year,
                SchoolClass.grade == grade,
                SchoolClass.number == number,
            )
        )

    async def of_school(self, school_id: uuid.UUID, school_year: int | None) -> list[SchoolClass]:
        query = select(SchoolClass).where(SchoolClass.school_id == school_id)
        if school_year is not None:
            query = query.where(SchoolClass.school_year == school_year)
        rows = await self.session.scalars(
            query.order_by(SchoolClass.school_year.desc(), SchoolClass.grade, SchoolClass.number)
        )
        return list(rows.all())

    async def taught_by(self, teacher_id: uuid.UUID, school_year: int | None = None) -> list[SchoolClass]:
        taught = select(ClassTeacher.class_id).where(ClassTeacher.teacher_id == teacher_id)
        query = select(SchoolClass).where(
            (SchoolClass.id.in_(taught)) | (SchoolClass.head_teacher_id == teacher_id)
        )
        if school_year is not None:
            query = query.where(SchoolClass.school_year == school_year)
        rows = await self.session.scalars(
            query.order_by(SchoolClass.school_year.desc(), SchoolClass.grade, SchoolClass.number)
        )
        return list(rows.all())

    async def of_student(self, student_id: uuid.UUID) -> list[SchoolClass]:
        rows = await self.session.scalars(
            select(SchoolClass)
            .join(ClassStudent, ClassStudent.class_id == SchoolClass.id)
            .where(ClassStudent.student_id == student_id)
            .order_by(SchoolClass.school_year.desc())
        )
        return list(rows.all())

    async def teaches(self, teacher_id: uuid.UUID, class_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these classes the user teaches (a subject, or as 班主任)."""
        if not class_ids:
            return set()
        subject = await self.session.scalars(
            select(ClassTeacher.class_id).where(
                ClassTeacher.teacher_id == teacher_id, ClassTeacher.class_id.in_(class_ids)
            )
        )
        head = await self.session.scalars(
            select(SchoolClass.id).where(
                SchoolClass.head_teacher_id == teacher_id, SchoolClass.id.in_(class_ids)
            )
        )
        return set(subject.all()) | set(head.all())

    async def member_of(self, student_id: uuid.UUID, class_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not class_ids:
            return set()
        rows = await self.session.scalars(
            select(ClassStudent.class_id).where(
                ClassStudent.student_id == student_id, ClassStudent.class_id.in_(class_ids)
            )
        )
        return set(rows.all())

    async def students(self, class_id: uuid.UUID) -> list[User]:
        rows = await self.session.scalars(
            select(User)
            .join(ClassStudent, ClassStudent.student_id == User.id)
            .where(ClassStudent.class_id == class_id)
            .order_by(User.display_name, User.username)
        )
        return list(rows.all())

    async def student_ids(self, class_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(class id, student id) of these classes."""
        if not class_ids:
            return []
        rows = await self.session.execute(
            select(ClassStudent.class_id, ClassStudent.student_id).where(ClassStudent.class_id.in_(class_ids))
        )
        return [(class_id, student_id) for class_id, student_id in rows.all()]

    async def student_counts(self, class_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not class_ids:
            return {}
        rows = await self.session.execute(
            select(ClassStudent.class_id, func.count())
            .where(ClassStudent.class_id.in_(class_ids))
            .group_by(ClassStudent.class_id)
        )
        return {class_id: int(count) for class_id, count in rows.all()}

    async def teachings(self, class_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, User, str]]:
        if not class_ids:
            return []
        rows = await self.session.execute(
            select(ClassTeacher.class_id, User, ClassTeacher.subject)
            .join(User, User.id == ClassTeacher.teacher_id)
            .where(ClassTeacher.class_id.in_(class_ids))
            .order_by(ClassTeacher.subject, User.display_name)
        )
        return [(class_id, user, subject) for class_id, user, subject in rows.all()]

    async def class_of_student_in_year(self, student_id: uuid.UUID, school_year: int) -> ClassStudent | None:
        return await self.session.scalar(
            select(ClassStudent).where(
                ClassStudent.student_id == student_id, ClassStudent.school_year == school_year
            )
        )

    def add_student(self, class_id: uuid.UUID, student_id: uuid.UUID, school_year: int) -> None:
        self.session.add(ClassStudent(class_id=class_id, student_id=student_id, school_year=school_year))

    async def remove_student(self, class_id: uuid.UUID, student_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(ClassStudent).where(
                ClassStudent.class_id == class_id, ClassStudent.student_id == student_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def teaching(self, class_id: uuid.UUID, teacher_id: uuid.UUID, subject: str) -> ClassTeacher | None:
        return await self.session.get(ClassTeacher, (class_id, teacher_id, subject))

    def add_teaching(self, class_id: uuid.UUID, teacher_id: uuid.UUID, subject: str) -> None:
        self.session.add(ClassTeacher(class_id=class_id, teacher_id=teacher_id, subject=subject))

    async def remove_teaching(self, class_id: uuid.UUID, teacher_id: uuid.UUID, subject: str | None) -> bool:
        statement = delete(ClassTeacher).where(
            ClassTeacher.class_id == class_id, ClassTeacher.teacher_id == teacher_id
        )
        if subject is not None:
            statement = statement.where(ClassTeacher.subject == subject)
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def has_assignments(self, class_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(AssignmentClass.class_id).where(AssignmentClass.class_id == class_id).limit(1)
        )
        return found is not None

    async def delete(self, school_class: SchoolClass) -> None:
        await self.session.delete(school_class)

    async def users(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(select(User).where(User.id.in_(user_ids)))
        return {user.id: user for user in rows.all()}
