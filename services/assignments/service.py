"""Use cases of assignments: giving work to classes, handing it in, reviewing it.

Who may see what is decided in services.authz from how the caller stands to the classes involved
(teaches them, or is a student in them); ids the caller may not see answer 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.assignments.repository import AssignmentRepository, SubmissionRepository
from services.assignments.schemas import AssignmentCreate, AssignmentUpdate, Review, TaskState
from services.authz import Principal
from services.classes import service as classes
from services.classes.repository import ClassRepository
from services.errors import AppError, Conflict, Forbidden, NotFound
from services.jobs.repository import JobRepository
from services.maintenance.repository import BlobDeletionRepository
from services.notifications.service import notify
from services.resources.filetypes import FileCategory
from services.resources.intake import StagedBlob
from services.settings import Settings
from services.viewing import service as viewing
from services.viewing.schemas import TaskVideo, VideoProgress
from storage.database import utcnow
from storage.models.assignments import (
    Assignment,
    Grading,
    Submission,
    SubmissionFile,
    SubmissionStatus,
)
from storage.models.classes import SchoolClass
from storage.models.identity import PublicationStatus, Role, Visibility
from storage.models.research import NotificationKind
from storage.models.resources import Resource

PREVIEW_JOB = "submission_preview"
TEXT_JOB = "submission_text"
# Handed-in files whose words the worker reads for the teachers' search (photos: by OCR).
READABLE_DOCUMENTS = frozenset({"pdf", "docx", "pptx"})
SUBMISSION_PREFIX = "sub"
SUBMISSION_CATEGORIES = frozenset(
    {FileCategory.image, FileCategory.document, FileCategory.audio, FileCategory.video}
)
DEFAULT_MAX_SCORE = 100


class PastDue(AppError):
    status_code = 409
    code = "past_due"


@dataclass(frozen=True)
class Access:
    """An assignment with the classes it was given to and how the caller stands to them."""

    assignment: Assignment
    class_ids: list[uuid.UUID]
    relation: classes.Relation

    @property
    def member_class(self) -> uuid.UUID | None:
        return next(iter(self.relation.member), None)


async def access(session: AsyncSession, principal: Principal, assignment_id: uuid.UUID) -> Access:
    assignment = await AssignmentRepository(session).get(assignment_id)
    if assignment is None:
        raise NotFound("Assignment not found")
    class_ids = (await AssignmentRepository(session).class_ids([assignment.id]))[assignment.id]
    related = await classes.relation(session, principal, class_ids)
    if not authz.can_read_assignment(
        principal,
        assignment.school_id,
        assignment.teacher_id,
        teaches=bool(related.teaches),
        member=bool(related.member),
    ):
        raise NotFound("Assignment not found")
    return Access(assignment, class_ids, related)


async def _check_resources(
    session: AsyncSession, principal: Principal, resource_ids: list[uuid.UUID]
) -> None:
    """Each resource must be one the teacher can open and the class can too: published, not private."""
    for resource_id in dict.fromkeys(resource_ids):
        resource = await session.get(Resource, resource_id)
        if resource is None or not authz.can_read(principal, resource):
            raise NotFound(f"Resource {resource_id} not found")
        if resource.visibility == Visibility.private or resource.status != PublicationStatus.published:
            raise Conflict(
                f"{resource.title!r} is private or a draft: students could not open it; publish it first"
            )


async def create_assignment(
    session: AsyncSession, settings: Settings, principal: Principal, data: AssignmentCreate
) -> Assignment:
    if not authz.can_assign(principal):
        raise Forbidden("Teachers give assignments to the classes they teach")
    class_ids = list(dict.fromkeys(data.class_ids))
    found = {item.id: item for item in await ClassRepository(session).by_ids(class_ids)}
    related = await classes.relation(session, principal, class_ids)
    for class_id in class_ids:
        school_class = found.get(class_id)
        if school_class is None or not authz.can_see_class(
            principal, school_class.school_id, teaches=class_id in related.teaches, member=False
        ):
            raise NotFound(f"Class {class_id} not found")
        if class_id not in related.teaches:
            raise Forbidden(f"You do not teach {classes.class_name(school_class.grade, school_class.number)}")
    schools = {found[class_id].school_id for class_id in class_ids}
    if len(schools) != 1:
        raise AppError("The classes of one assignment belong to one school", 422, code="invalid_payload")
    await _check_resources(session, principal, data.resource_ids)
    assignment = Assignment(
        id=uuid.uuid4(),
        school_id=schools.pop(),
        teacher_id=principal.user_id,
        title=data.title.strip(),
        instructions=data.instructions,
        due_at=data.due_at,
        submission_required=data.submission_required,
        accept_late=settings.accept_late_submissions if data.accept_late is None else data.accept_late,
        grading=data.grading,
        max_score=(data.max_score or DEFAULT_MAX_SCORE) if data.grading == Grading.score else None,
    )
    AssignmentRepository(session).add(assignment, class_ids, list(dict.fromkeys(data.resource_ids)))
    await session.flush()
    students = [student for _, student in await ClassRepository(session).student_ids(class_ids)]
    notify(
        session,
        students,
        NotificationKind.assignment_given,
        actor_id=principal.user_id,
        subject={"assignment_id": assignment.id},
        text=f"新任务：{assignment.title}",
    )
    return assignment


async def list_assignments(session: AsyncSession, principal: Principal) -> list[Assignment]:
    repository = AssignmentRepository(session)
    if principal.role == Role.student:
        return await repository.for_student(principal.user_id)
    if principal.role == Role.school_admin and principal.school_id is not None:
        return await repository.for_school(principal.school_id)
    return await repository.for_teacher(principal.user_id)


async def update_assignment(
    session: AsyncSession, principal: Principal, assignment_id: uuid.UUID, data: AssignmentUpdate
) -> Access:
    found = await access(session, principal, assignment_id)
    if not authz.can_change_assignment(principal, found.assignment.teacher_id):
        raise Forbidden("Only the teacher who gave it changes an assignment")
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(found.assignment, field, value)
    return found


async def delete_assignment(session: AsyncSession, principal: Principal, assignment_id: uuid.UUID) -> None:
    found = await access(session, principal, assignment_id)
    if not authz.can_change_assignment(principal, found.assignment.teacher_id):
        raise Forbidden("Only the teacher who gave it deletes an assignment")
    submissions = SubmissionRepository(session)
    for submission in await submissions.of_assignment(assignment_id):
        BlobDeletionRepository(session).add(await submissions.remove_files(submission.id))
    await AssignmentRepository(session).delete(found.assignment)


# -- students' tasks ---------------------------------------------------------------------------


def watched_all(progress: list[VideoProgress]) -> bool:
    return bool(progress) and all(item.finished for item in progress)


def task_state(
    assignment: Assignment,
    submission: Submission | None,
    now: datetime,
    watch: list[VideoProgress] | None = None,
) -> TaskState:
    """A task asking for no submission is done once every video of it was watched (90 %)."""
    if submission is not None:
        return "returned" if submission.status == SubmissionStatus.returned else "done"
    if not assignment.submission_required and watched_all(watch or []):
        return "done"
    return "overdue" if now > assignment.due_at else "due"


async def videos_of(
    session: AsyncSession, resources: dict[uuid.UUID, list[Resource]]
) -> dict[uuid.UUID, list[TaskVideo]]:
    """Per assignment, the videos its resources give to watch, in the resources' order."""
    resource_ids = sorted({resource.id for listed in resources.values() for resource in listed})
    by_resource: dict[uuid.UUID, TaskVideo] = {}
    for video in await viewing.task_videos(session, resource_ids):
        by_resource.setdefault(video.resource_id, video)
    return {
        assignment_id: [by_resource[item.id] for item in listed if item.id in by_resource]
        for assignment_id, listed in resources.items()
    }


async def my_submissions(
    session: AsyncSession, principal: Principal, assignments: list[Assignment]
) -> dict[uuid.UUID, Submission]:
    if principal.role != Role.student:
        return {}
    return await SubmissionRepository(session).by_student(
        principal.user_id, [item.id for item in assignments]
    )


async def my_watch(
    session: AsyncSession, principal: Principal, videos: dict[uuid.UUID, list[TaskVideo]]
) -> dict[uuid.UUID, list[VideoProgress]]:
    """A student's own progress in the videos of each of their tasks."""
    every = [video for listed in videos.values() for video in listed]
    progress = (await viewing.progress_of_students(session, every, [principal.user_id]))[principal.user_id]
    by_file = {video.file_id: share for video, share in zip(every, progress, strict=True)}
    return {task: [by_file[video.file_id] for video in listed] for task, listed in videos.items()}


# -- handing in --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hand:
    """A submission about to be made: checked before any byte of it is read."""

    assignment: Assignment
    class_id: uuid.UUID
    is_late: bool


async def prepare_submission(session: AsyncSession, principal: Principal, assignment_id: uuid.UUID) -> Hand:
    """May this student hand in now? 404 for an assignment not given to their class, 409 after
    the due time (unless late work is accepted, or their work was given back for redo)."""
    if principal.role != Role.student:
        # Teachers see the assignment, but there is nothing for them to hand in.
        await access(session, principal, assignment_id)
        raise Forbidden("Only the students of the class hand work in")
    found = await access(session, principal, assignment_id)
    class_id = found.member_class
    if class_id is None or not authz.can_submit(principal, member=True):
        raise NotFound("Assignment not found")
    existing = await SubmissionRepository(session).of_student(assignment_id, principal.user_id)
    redo = existing is not None and existing.status == SubmissionStatus.returned
    late = utcnow() > found.assignment.due_at
    if late and not redo and not found.assignment.accept_late:
        raise PastDue("The due time has passed; this assignment takes no more work")
    return Hand(found.assignment, class_id, late and not redo)


async def save_submission(
    session: AsyncSession, principal: Principal, hand: Hand, text: str, staged: list[StagedBlob]
) -> Submission:
    """Hand in (or again): text and files replace what was handed in before."""
    if hand.assignment.submission_required and not text.strip() and not staged:
        raise AppError("Hand in some text or a file", 422, code="invalid_payload")
    repository = SubmissionRepository(session)
    submission = await repository.of_student(hand.assignment.id, principal.user_id, for_update=True)
    now = utcnow()
    if submission is None:
        submission = Submission(
            id=uuid.uuid4(),
            assignment_id=hand.assignment.id,
            student_id=principal.user_id,
            class_id=hand.class_id,
            attempts=1,
        )
        repository.add(submission)
    else:
        submission.attempts += 1
        BlobDeletionRepository(session).add(await repository.remove_files(submission.id))
    submission.text = text
    submission.status = SubmissionStatus.submitted
    submission.submitted_at = now
    submission.is_late = hand.is_late
    submission.grade_level = None
    submission.score = None
    await session.flush()
    files = [
        SubmissionFile(
            id=uuid.uuid4(),
            submission_id=submission.id,
            filename=blob.filename,
            format=blob.detected.format,
            media_type=blob.detected.media_type,
            category=blob.detected.category.value,
            size=blob.size,
            sha256=blob.sha256,
            blob_key=blob.key,
            preview_status="pending" if blob.detected.category == FileCategory.image else "none",
            created_at=now,
        )
        for blob in staged
    ]
    repository.add_files(files)
    for file in files:
        if file.category == FileCategory.image:
            JobRepository(session).add(PREVIEW_JOB, {"file_id": str(file.id)})
        if file.category == FileCategory.image or (
            file.category == FileCategory.document and file.format in READABLE_DOCUMENTS
        ):
            JobRepository(session).add(TEXT_JOB, {"file_id": str(file.id)})
    await session.flush()
    return submission


# -- reading and reviewing -----------------------------------------------------------------------


async def visible_submission(
    session: AsyncSession, principal: Principal, submission_id: uuid.UUID
) -> tuple[Submission, Assignment, bool]:
    """The submission, its assignment, and whether the caller teaches it (may review it)."""
    submission = await SubmissionRepository(session).get(submission_id)
    if submission is None:
        raise NotFound("Submission not found")
    assignment = await AssignmentRepository(session).get(submission.assignment_id)
    if assignment is None:
        raise NotFound("Submission not found")
    teaches = principal.role != Role.student and (
        principal.user_id == assignment.teacher_id
        or bool(await ClassRepository(session).teaches(principal.user_id, [submission.class_id]))
    )
    if not authz.can_read_submission(principal, submission.student_id, assignment.school_id, teaches=teaches):
        raise NotFound("Submission not found")
    return submission, assignment, teaches


async def review_submission(
    session: AsyncSession, principal: Principal, submission_id: uuid.UUID, data: Review
) -> tuple[Submission, Assignment]:
    submission, assignment, teaches = await visible_submission(session, principal, submission_id)
    if not authz.can_review_submission(principal, submission.student_id, teaches=teaches):
        raise Forbidden("Work is reviewed by the teachers of the class")
    if assignment.grading == Grading.level and data.score is not None:
        raise AppError("This assignment is graded A/B/C/D (grade_level)", 422, code="invalid_payload")
    if assignment.grading == Grading.score:
        if data.grade_level is not None:
            raise AppError("This assignment is graded by score", 422, code="invalid_payload")
        if data.score is not None and data.score > (assignment.max_score or DEFAULT_MAX_SCORE):
            raise AppError(f"The score is at most {assignment.max_score}", 422, code="invalid_payload")
    if assignment.grading == Grading.none and (data.score is not None or data.grade_level is not None):
        raise AppError("This assignment takes feedback only", 422, code="invalid_payload")
    submission.feedback = data.feedback
    submission.grade_level = data.grade_level
    submission.score = data.score
    submission.reviewed_at = utcnow()
    submission.reviewed_by_id = principal.user_id
    submission.status = SubmissionStatus.returned if data.return_for_redo else SubmissionStatus.graded
    kind = (
        NotificationKind.submission_returned if data.return_for_redo else NotificationKind.submission_reviewed
    )
    verb = "退回重做" if data.return_for_redo else "已批改"
    notify(
        session,
        [submission.student_id],
        kind,
        actor_id=principal.user_id,
        subject={"assignment_id": assignment.id, "submission_id": submission.id},
        text=f"{assignment.title}：{verb}",
    )
    await session.flush()
    return submission, assignment


async def teaching_access(session: AsyncSession, principal: Principal, assignment_id: uuid.UUID) -> Access:
    """For the roster: its teacher, the teachers of its classes, the school's admins."""
    found = await access(session, principal, assignment_id)
    if principal.role == Role.student:
        raise Forbidden("The class's work is for its teachers")
    return found


def visible_classes(principal: Principal, found: Access, class_list: list[SchoolClass]) -> list[SchoolClass]:
    """The classes of an assignment whose work the caller may see."""
    if principal.user_id == found.assignment.teacher_id or (
        principal.role == Role.school_admin and principal.school_id == found.assignment.school_id
    ):
        return class_list
    return [item for item in class_list if item.id in found.relation.teaches]


@dataclass(frozen=True)
class RosterLine:
    class_id: uuid.UUID
    student_id: uuid.UUID
    submission: Submission | None
    watch: list[VideoProgress]
    watch_only: bool

    @property
    def state(self) -> str:
        """submitted, late, missing, returned, graded, or watched (a task asking for no submission)."""
        if self.submission is None:
            return "watched" if self.watch_only and watched_all(self.watch) else "missing"
        if self.submission.status == SubmissionStatus.graded:
            return "graded"
        if self.submission.status == SubmissionStatus.returned:
            return "returned"
        return "late" if self.submission.is_late else "submitted"


@dataclass(frozen=True)
class RosterView:
    access: Access
    classes: list[SchoolClass]
    lines: list[RosterLine]
    videos: list[TaskVideo]


async def roster(
    session: AsyncSession, principal: Principal, assignment_id: uuid.UUID, class_id: uuid.UUID | None
) -> RosterView:
    """Per class, every student, where their work stands and how far they watched its videos."""
    found = await teaching_access(session, principal, assignment_id)
    class_list = visible_classes(principal, found, await ClassRepository(session).by_ids(found.class_ids))
    if class_id is not None:
        class_list = [item for item in class_list if item.id == class_id]
        if not class_list:
            raise NotFound("Class not found")
    class_list.sort(key=lambda item: (item.grade, item.number))
    members = await ClassRepository(session).student_ids([item.id for item in class_list])
    submissions = {
        item.student_id: item for item in await SubmissionRepository(session).of_assignment(assignment_id)
    }
    resources = await AssignmentRepository(session).resources([assignment_id])
    videos = (await videos_of(session, resources))[assignment_id]
    watch = await viewing.progress_of_students(session, videos, [student_id for _, student_id in members])
    watch_only = bool(videos) and not found.assignment.submission_required
    lines = [
        RosterLine(cid, student_id, submissions.get(student_id), watch[student_id], watch_only)
        for cid, student_id in members
    ]
    return RosterView(found, class_list, lines, videos)
