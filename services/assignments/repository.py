"""All SQL for assignments and submissions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models.assignments import (
    Assignment,
    AssignmentClass,
    AssignmentResource,
    Submission,
    SubmissionFile,
    SubmissionFileText,
)
from storage.models.classes import ClassStudent, ClassTeacher, SchoolClass
from storage.models.identity import User
from storage.models.resources import Resource


class AssignmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(
        self, assignment: Assignment, class_ids: Sequence[uuid.UUID], resource_ids: Sequence[uuid.UUID]
    ) -> None:
        self.session.add(assignment)
        self.session.add_all(AssignmentClass(assignment_id=assignment.id, class_id=cid) for cid in class_ids)
        self.session.add_all(
            AssignmentResource(assignment_id=assignment.id, resource_id=rid, position=position)
            for position, rid in enumerate(resource_ids)
        )

    async def get(self, assignment_id: uuid.UUID, *, for_update: bool = False) -> Assignment | None:
        query = select(Assignment).where(Assignment.id == assignment_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def delete(self, assignment: Assignment) -> None:
        await self.session.delete(assignment)

    async def class_ids(self, assignment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        found: dict[uuid.UUID, list[uuid.UUID]] = {aid: [] for aid in assignment_ids}
        if not assignment_ids:
            return found
        rows = await self.session.execute(
            select(AssignmentClass.assignment_id, AssignmentClass.class_id).where(
                AssignmentClass.assignment_id.in_(assignment_ids)
            )
        )
        for assignment_id, class_id in rows.all():
            found[assignment_id].append(class_id)
        return found

    async def resources(self, assignment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Resource]]:
        found: dict[uuid.UUID, list[Resource]] = {aid: [] for aid in assignment_ids}
        if not assignment_ids:
            return found
        rows = await self.session.execute(
            select(AssignmentResource.assignment_id, Resource)
            .join(Resource, Resource.id == AssignmentResource.resource_id)
            .where(AssignmentResource.assignment_id.in_(assignment_ids))
            .order_by(AssignmentResource.position)
        )
        for assignment_id, resource in rows.all():
            found[assignment_id].append(resource)
        return found

    async def for_student(self, student_id: uuid.UUID) -> list[Assignment]:
        classes = select(ClassStudent.class_id).where(ClassStudent.student_id == student_id)
        given = select(AssignmentClass.assignment_id).where(AssignmentClass.class_id.in_(classes))
        rows = await self.session.scalars(
            select(Assignment).where(Assignment.id.in_(given)).order_by(Assignment.due_at.desc())
        )
        return list(rows.all())

    async def for_teacher(self, teacher_id: uuid.UUID) -> list[Assignment]:
        """What they gave, and what was given to the classes they teach."""
        taught = select(ClassTeacher.class_id).where(ClassTeacher.teacher_id == teacher_id)
        headed = select(SchoolClass.id).where(SchoolClass.head_teacher_id == teacher_id)
        given = select(AssignmentClass.assignment_id).where(
            or_(AssignmentClass.class_id.in_(taught), AssignmentClass.class_id.in_(headed))
        )
        rows = await self.session.scalars(
            select(Assignment)
            .where(or_(Assignment.teacher_id == teacher_id, Assignment.id.in_(given)))
            .order_by(Assignment.due_at.desc())
        )
        return list(rows.all())

    async def for_school(self, school_id: uuid.UUID) -> list[Assignment]:
        rows = await self.session.scalars(
            select(Assignment).where(Assignment.school_id == school_id).order_by(Assignment.due_at.desc())
        )
        return list(rows.all())

    async def users(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(select(User).where(User.id.in_(set(user_ids))))
        return {user.id: user for user in rows.all()}


class SubmissionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, submission: Submission) -> None:
        self.session.add(submission)

    def add_files(self, files: Sequence[SubmissionFile]) -> None:
        self.session.add_all(files)

    async def get(self, submission_id: uuid.UUID, *, for_update: bool = False) -> Submission | None:
        query = select(Submission).where(Submission.id == submission_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def of_student(
        self, assignment_id: uuid.UUID, student_id: uuid.UUID, *, for_update: bool = False
    ) -> Submission | None:
        query = select(Submission).where(
            Submission.assignment_id == assignment_id, Submission.student_id == student_id
        )
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def by_student(
        self, student_id: uuid.UUID, assignment_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Submission]:
        if not assignment_ids:
            return {}
        rows = await self.session.scalars(
            select(Submission).where(
                Submission.student_id == student_id, Submission.assignment_id.in_(assignment_ids)
            )
        )
        return {submission.assignment_id: submission for submission in rows.all()}

    async def of_assignment(self, assignment_id: uuid.UUID) -> list[Submission]:
        rows = await self.session.scalars(select(Submission).where(Submission.assignment_id == assignment_id))
        return list(rows.all())

    async def files(self, submission_ids: Sequence[uuid.UUID]) -> list[SubmissionFile]:
        if not submission_ids:
            return []
        rows = await self.session.scalars(
            select(SubmissionFile)
            .where(SubmissionFile.submission_id.in_(submission_ids))
            .order_by(SubmissionFile.created_at, SubmissionFile.filename)
        )
        return list(rows.all())

    async def file(self, file_id: uuid.UUID) -> SubmissionFile | None:
        return await self.session.get(SubmissionFile, file_id)

    async def remove_files(self, submission_id: uuid.UUID) -> list[str]:
        """Delete a submission's file rows; returns their blob keys (previews included) to remove."""
        files = await self.files([submission_id])
        keys = [key for file in files for key in (file.blob_key, file.preview_key) if key]
        await self.session.execute(
            delete(SubmissionFileText).where(SubmissionFileText.submission_id == submission_id)
        )
        await self.session.execute(
            delete(SubmissionFile).where(SubmissionFile.submission_id == submission_id)
        )
        return keys

    async def referenced_blob_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for column in (SubmissionFile.blob_key, SubmissionFile.preview_key):
            rows = await self.session.scalars(select(column).where(column.in_(keys)))
            found |= {key for key in rows.all() if key is not None}
        return found

    async def expired(self, last_school_year: int, limit: int) -> list[Submission]:
        """Submissions handed in for classes of school years up to `last_school_year`."""
        old_classes = select(SchoolClass.id).where(SchoolClass.school_year <= last_school_year)
        rows = await self.session.scalars(
            select(Submission).where(Submission.class_id.in_(old_classes)).limit(limit)
        )
        return list(rows.all())

    async def delete(self, submission: Submission) -> None:
        await self.session.delete(submission)

    # -- the text read from handed-in work, and searching it -------------------------------------------

    async def save_text(self, text: SubmissionFileText) -> None:
        await self.session.merge(text)

    async def texts(self, submission_ids: Sequence[uuid.UUID]) -> list[SubmissionFileText]:
        if not submission_ids:
            return []
        rows = await self.session.scalars(
            select(SubmissionFileText).where(SubmissionFileText.submission_id.in_(submission_ids))
        )
        return list(rows.all())

    async def search(
        self,
        pattern: str,
        *,
        teacher_id: uuid.UUID | None = None,
        school_id: uuid.UUID | None = None,
        assignment_id: uuid.UUID | None = None,
        class_ids: Sequence[uuid.UUID] | None = None,
        names: bool = True,
        limit: int = 50,
    ) -> list[tuple[Submission, Assignment, User]]:
        """Submissions whose student's name (when `names`), text, or files' read text contain
        `pattern` (a LIKE pattern escaped with backslashes), newest first, within every scope given:
        what `teacher_id` teaches (or gave), `school_id`'s, one assignment's, some classes'."""

        def like(column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
            return func.lower(column).like(func.lower(pattern), escape="\\")

        in_files = exists().where(
            SubmissionFileText.submission_id == Submission.id, like(SubmissionFileText.text)
        )
        matches = [like(Submission.text), in_files]
        if names:
            matches += [like(User.display_name), like(User.username)]
        query = (
            select(Submission, Assignment, User)
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .join(User, User.id == Submission.student_id)
            .where(or_(*matches))
        )
        if teacher_id is not None:
            taught = select(ClassTeacher.class_id).where(ClassTeacher.teacher_id == teacher_id)
            headed = select(SchoolClass.id).where(SchoolClass.head_teacher_id == teacher_id)
            query = query.where(
                or_(
                    Submission.class_id.in_(taught),
                    Submission.class_id.in_(headed),
                    Assignment.teacher_id == teacher_id,
                )
            )
        if school_id is not None:
            query = query.where(Assignment.school_id == school_id)
        if assignment_id is not None:
            query = query.where(Submission.assignment_id == assignment_id)
        if class_ids is not None:
            query = query.where(Submission.class_id.in_(class_ids))
        rows = await self.session.execute(
            query.order_by(Submission.submitted_at.desc(), Submission.id).limit(limit)
        )
        return [(submission, assignment, student) for submission, assignment, student in rows.all()]
