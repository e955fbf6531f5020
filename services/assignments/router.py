"""HTTP for assignments, submissions and their review."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.assignments import search, service
from services.assignments.repository import AssignmentRepository, SubmissionRepository
from services.assignments.schemas import (
    AssignmentCreate,
    AssignmentRead,
    AssignmentUpdate,
    ClassSummary,
    MyTask,
    NamedRef,
    ResourceRef,
    Review,
    Roster,
    RosterEntry,
    SubmissionFileRead,
    SubmissionHit,
    SubmissionJson,
    SubmissionRead,
    TaskState,
)
from services.authz import Principal
from services.blob_http import blob_response
from services.classes.repository import ClassRepository
from services.classes.service import class_name
from services.deps import BlobStoreDep, SessionDep, SettingsDep
from services.errors import AppError, NotFound
from services.identity.deps import CurrentPrincipal
from services.resources import uploads
from services.resources.intake import StagedBlob, stream_to_store
from services.settings import Settings
from services.streaming_form import InvalidForm, StreamingForm
from storage.blobs.base import BlobStore
from storage.database import utcnow
from storage.models.assignments import Assignment, Submission, SubmissionFile

router = APIRouter(prefix="/api/v1", tags=["assignments"])

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not allowed for the caller's role"},
    404: {"description": "No such assignment or submission, or not one the caller may see"},
    409: {"description": "Past the due time, or the content cannot be used"},
    413: {"description": "A file is larger than allowed"},
    415: {"description": "A file's bytes are not an accepted type"},
}
MEBIBYTE = 1024 * 1024


async def assignment_reads(
    session: AsyncSession, principal: Principal, assignments: list[Assignment]
) -> list[AssignmentRead]:
    repository = AssignmentRepository(session)
    ids = [item.id for item in assignments]
    class_ids = await repository.class_ids(ids)
    class_rows = {
        item.id: item
        for item in await ClassRepository(session).by_ids(
            sorted({cid for cids in class_ids.values() for cid in cids})
        )
    }
    resources = await repository.resources(ids)
    videos = await service.videos_of(session, resources)
    teachers = await repository.users([item.teacher_id for item in assignments])
    mine = await service.my_submissions(session, principal, assignments)
    is_student = principal.role == "student"
    watched = await service.my_watch(session, principal, videos) if is_student else {}
    now = utcnow()
    reads = []
    for item in assignments:
        teacher = teachers.get(item.teacher_id)
        submission = mine.get(item.id)
        reads.append(
            AssignmentRead(
                id=item.id,
                school_id=item.school_id,
                title=item.title,
                instructions=item.instructions,
                due_at=item.due_at,
                submission_required=item.submission_required,
                accept_late=item.accept_late,
                grading=item.grading,
                max_score=item.max_score,
                teacher=NamedRef(id=item.teacher_id, name=teacher.display_name if teacher else ""),
                classes=[
                    NamedRef(id=cid, name=class_name(class_rows[cid].grade, class_rows[cid].number))
                    for cid in class_ids[item.id]
                    if cid in class_rows
                ],
                resources=[
                    ResourceRef(id=resource.id, title=resource.title, resource_type=resource.resource_type)
                    for resource in resources[item.id]
                ],
                videos=videos[item.id],
                created_at=item.created_at,
                mine=MyTask(
                    state=service.task_state(item, submission, now, watched.get(item.id)),
                    submission_id=submission.id if submission else None,
                    grade_level=submission.grade_level if submission else None,
                    score=submission.score if submission else None,
                    watch=watched.get(item.id, []),
                )
                if is_student
                else None,
            )
        )
    return reads


def _file_read(file: SubmissionFile) -> SubmissionFileRead:
    base = f"/api/v1/submissions/{file.submission_id}/files/{file.id}"
    return SubmissionFileRead(
        id=file.id,
        filename=file.filename,
        format=file.format,
        media_type=file.media_type,
        category=file.category,
        size=file.size,
        content_url=f"{base}/content",
        preview_url=f"{base}/preview" if file.preview_key else None,
    )


async def submission_reads(session: AsyncSession, submissions: list[Submission]) -> list[SubmissionRead]:
    files = await SubmissionRepository(session).files([item.id for item in submissions])
    students = await AssignmentRepository(session).users([item.student_id for item in submissions])
    reads = []
    for item in submissions:
        student = students.get(item.student_id)
        reads.append(
            SubmissionRead(
                id=item.id,
                assignment_id=item.assignment_id,
                student=NamedRef(id=item.student_id, name=student.display_name if student else ""),
                class_id=item.class_id,
                text=item.text,
                status=item.status,
                attempts=item.attempts,
                submitted_at=item.submitted_at,
                is_late=item.is_late,
                grade_level=item.grade_level,
                score=item.score,
                feedback=item.feedback,
                reviewed_at=item.reviewed_at,
                files=[_file_read(file) for file in files if file.submission_id == item.id],
            )
        )
    return reads


# -- assignments -----------------------------------------------------------------------------------


@router.post("/assignments", status_code=201, response_model=AssignmentRead, responses=ERRORS)
async def create_assignment(
    data: AssignmentCreate, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> AssignmentRead:
    """Give resources to classes one teaches, with instructions and a due time; their students
    are notified."""
    assignment = await service.create_assignment(session, settings, principal, data)
    (read,) = await assignment_reads(session, principal, [assignment])
    return read


@router.get("/assignments", response_model=list[AssignmentRead], responses=ERRORS)
async def list_assignments(
    session: SessionDep,
    principal: CurrentPrincipal,
    state: Annotated[TaskState | None, Query(description="Students: due, overdue, done or returned")] = None,
) -> list[AssignmentRead]:
    """Students: their tasks (我的任务); teachers: what they gave and what their classes got; school
    admins: their school's."""
    reads = await assignment_reads(session, principal, await service.list_assignments(session, principal))
    if state is not None:
        reads = [read for read in reads if read.mine is not None and read.mine.state == state]
    return reads


@router.get("/assignments/{assignment_id}", response_model=AssignmentRead, responses=ERRORS)
async def get_assignment(
    assignment_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> AssignmentRead:
    found = await service.access(session, principal, assignment_id)
    (read,) = await assignment_reads(session, principal, [found.assignment])
    return read


@router.patch("/assignments/{assignment_id}", response_model=AssignmentRead, responses=ERRORS)
async def update_assignment(
    assignment_id: uuid.UUID, data: AssignmentUpdate, session: SessionDep, principal: CurrentPrincipal
) -> AssignmentRead:
    found = await service.update_assignment(session, principal, assignment_id, data)
    (read,) = await assignment_reads(session, principal, [found.assignment])
    return read


@router.delete("/assignments/{assignment_id}", status_code=204, responses=ERRORS)
async def delete_assignment(
    assignment_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await service.delete_assignment(session, principal, assignment_id)
    return Response(status_code=204)


# -- handing in ------------------------------------------------------------------------------------


async def _discard(store: BlobStore, staged: list[StagedBlob]) -> None:
    for blob in staged:
        if not blob.from_upload:
            await store.delete(blob.key)


async def _receive_multipart(
    request: Request, store: BlobStore, settings: Settings
) -> tuple[str, list[StagedBlob]]:
    """The `text` field and every `file` part, each streamed to the store as it arrives."""
    form = StreamingForm(request)
    staged: list[StagedBlob] = []
    try:
        while (file := await form.next_file()) is not None:
            if file.field_name != "file":
                raise InvalidForm("Files go in fields named 'file'")
            if len(staged) >= settings.max_submission_files:
                raise InvalidForm(f"Hand in at most {settings.max_submission_files} files")
            if not file.filename:
                # A file input left empty sends a part with no name and no bytes.
                async for _ in form.file_chunks():
                    pass
                continue
            staged.append(
                await stream_to_store(
                    store,
                    settings,
                    filename=file.filename,
                    chunks=form.file_chunks(),
                    allowed=service.SUBMISSION_CATEGORIES,
                    what="Handed-in work",
                    key_prefix=service.SUBMISSION_PREFIX,
                    max_bytes=settings.max_submission_file_mb * MEBIBYTE,
                )
            )
        text = form.fields.get("text", "")
        if len(text) > 20_000:
            raise InvalidForm("The text is limited to 20000 characters")
    except BaseException:
        await _discard(store, staged)
        raise
    return text, staged


@router.post(
    "/assignments/{assignment_id}/submission",
    response_model=SubmissionRead,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "multipart/form-data: a `text` field and any number of `file` parts (photos, "
            "PDF/DOCX, audio, short video), or JSON {text, upload_ids} naming completed resumable uploads",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "text": {"type": "string"},
                            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        },
                    }
                },
                "application/json": {"schema": SubmissionJson.model_json_schema()},
            },
        }
    },
)
async def submit(
    assignment_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> SubmissionRead:
    """Hand work in, or again until the due time: it replaces what was handed in before."""
    hand = await service.prepare_submission(session, principal, assignment_id)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = SubmissionJson.model_validate_json(await request.body())
        except ValueError as exc:
            raise InvalidForm("The body is not a valid submission") from exc
        staged = [
            await uploads.take_completed(
                session, principal, upload_id, service.SUBMISSION_CATEGORIES, "Handed-in work"
            )
            for upload_id in dict.fromkeys(data.upload_ids)
        ]
        for blob in staged:
            if blob.size > settings.max_submission_file_mb * MEBIBYTE:
                raise AppError(
                    f"Handed-in files are limited to {settings.max_submission_file_mb} MB",
                    413,
                    code="payload_too_large",
                )
        text = data.text
    else:
        text, staged = await _receive_multipart(request, store, settings)
    try:
        submission = await service.save_submission(session, principal, hand, text, staged)
    except BaseException:
        await _discard(store, staged)
        raise
    (read,) = await submission_reads(session, [submission])
    return read


@router.get("/assignments/{assignment_id}/submission", response_model=SubmissionRead, responses=ERRORS)
async def my_submission(
    assignment_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> SubmissionRead:
    """The caller's own work for this assignment (404 before they hand any in)."""
    await service.access(session, principal, assignment_id)
    submission = await SubmissionRepository(session).of_student(assignment_id, principal.user_id)
    if submission is None:
        raise NotFound("Nothing handed in yet")
    (read,) = await submission_reads(session, [submission])
    return read


# -- review ----------------------------------------------------------------------------------------


@router.get("/assignments/{assignment_id}/submissions", response_model=Roster, responses=ERRORS)
async def roster(
    assignment_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    class_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of a student's name")] = None,
) -> Roster:
    """Per class: who handed in, who is late, who has not; completion and grade distribution; for a
    task with videos (微课), how far each student watched them. `q` finds students by name and work
    by its words: the text handed in and the text read from its documents and photos."""
    view = await service.roster(session, principal, assignment_id, class_id)
    found, class_list, lines = view.access, view.classes, view.lines
    students = await AssignmentRepository(session).users([line.student_id for line in lines])
    summaries = []
    for item in class_list:
        mine = [line for line in lines if line.class_id == item.id]
        states = Counter(line.state for line in mine)
        levels = Counter(
            line.submission.grade_level for line in mine if line.submission and line.submission.grade_level
        )
        scores = [
            line.submission.score for line in mine if line.submission and line.submission.score is not None
        ]
        handed = len(mine) - states["missing"]
        shares = [share.completion for line in mine for share in line.watch]
        summaries.append(
            ClassSummary(
                class_id=item.id,
                name=class_name(item.grade, item.number),
                students=len(mine),
                submitted=states["submitted"],
                late=states["late"],
                missing=states["missing"],
                returned=states["returned"],
                graded=states["graded"],
                completion=round(handed / len(mine), 4) if mine else 0.0,
                grade_distribution={level: levels[level] for level in "ABCD"},
                average_score=round(sum(scores) / len(scores), 2) if scores else None,
                watched=states["watched"],
                finished_watching=sum(1 for line in mine if service.watched_all(line.watch))
                if view.videos
                else None,
                average_watched=round(sum(shares) / len(shares), 4) if shares else None,
            )
        )
    entries = []
    needle = (q or "").strip().lower()
    found_words = (
        await search.words_in_work(
            session, needle, assignment_id=assignment_id, class_ids=[item.id for item in class_list]
        )
        if needle
        else {}
    )
    for line in lines:
        student = students.get(line.student_id)
        name = student.display_name if student else ""
        words = found_words.get(line.submission.id) if line.submission else None
        if (
            needle
            and needle not in name.lower()
            and (student is None or needle not in student.username.lower())
            and words is None
        ):
            continue
        entries.append(
            RosterEntry(
                student=NamedRef(id=line.student_id, name=name),
                class_id=line.class_id,
                state=line.state,
                submission_id=line.submission.id if line.submission else None,
                submitted_at=line.submission.submitted_at if line.submission else None,
                grade_level=line.submission.grade_level if line.submission else None,
                score=line.submission.score if line.submission else None,
                watch=line.watch,
                snippet=words.snippet if words else None,
                snippet_file=words.filename if words else None,
            )
        )
    entries.sort(key=lambda entry: (str(entry.class_id), entry.student.name))
    return Roster(assignment_id=found.assignment.id, videos=view.videos, classes=summaries, entries=entries)


@router.get("/submissions", response_model=list[SubmissionHit], responses=ERRORS)
async def search_submissions(
    session: SessionDep,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(min_length=1, max_length=100, description="A name, or words in the work")],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[SubmissionHit]:
    """Teachers: work of the classes they teach (school admins: their school's) whose student's name
    or words contain `q`: the text handed in and the text read from its documents and photos
    (OCR). Never the public search index."""
    return await search.search_submissions(session, principal, q, limit)


@router.get("/submissions/{submission_id}", response_model=SubmissionRead, responses=ERRORS)
async def get_submission(
    submission_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> SubmissionRead:
    submission, _, _ = await service.visible_submission(session, principal, submission_id)
    (read,) = await submission_reads(session, [submission])
    return read


@router.post("/submissions/{submission_id}/review", response_model=SubmissionRead, responses=ERRORS)
async def review(
    submission_id: uuid.UUID, data: Review, session: SessionDep, principal: CurrentPrincipal
) -> SubmissionRead:
    """Feedback and a grade (A–D or a score, as the assignment says), or back for redo; the
    student is notified."""
    submission, _ = await service.review_submission(session, principal, submission_id, data)
    (read,) = await submission_reads(session, [submission])
    return read


async def _visible_file(
    session: AsyncSession, principal: Principal, submission_id: uuid.UUID, file_id: uuid.UUID
) -> SubmissionFile:
    await service.visible_submission(session, principal, submission_id)
    file = await SubmissionRepository(session).file(file_id)
    if file is None or file.submission_id != submission_id:
        raise NotFound("File not found")
    return file


@router.get("/submissions/{submission_id}/files/{file_id}/content", responses=ERRORS)
async def file_content(
    submission_id: uuid.UUID,
    file_id: uuid.UUID,
    session: SessionDep,
    store: BlobStoreDep,
    principal: CurrentPrincipal,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    download: bool = False,
) -> Response:
    file = await _visible_file(session, principal, submission_id, file_id)
    return await blob_response(
        store,
        file.blob_key,
        range_header=range_header,
        content_type=file.media_type,
        filename=file.filename,
        inline=not download,
    )


@router.get("/submissions/{submission_id}/files/{file_id}/preview", responses=ERRORS)
async def file_preview(
    submission_id: uuid.UUID,
    file_id: uuid.UUID,
    session: SessionDep,
    store: BlobStoreDep,
    principal: CurrentPrincipal,
) -> Response:
    """A photo upright (EXIF orientation applied) and compressed, made by the worker."""
    file = await _visible_file(session, principal, submission_id, file_id)
    if file.preview_key is None:
        raise NotFound("No preview (yet)")
    return await blob_response(store, file.preview_key, range_header=None, content_type="image/jpeg")
