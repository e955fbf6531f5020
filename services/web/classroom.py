"""Pages of the students' half: 我的任务 for students (phone first), giving and reviewing work for
teachers, classes for school admins. They call the same services as the API, and post to the API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from services import authz
from services.assignments import search as submission_search
from services.assignments import service as assignments
from services.assignments.router import assignment_reads, submission_reads
from services.assignments.router import roster as roster_api
from services.authz import Principal
from services.classes import service as classes
from services.classes.repository import ClassRepository
from services.classes.router import class_detail, class_reads
from services.deps import SessionDep
from services.errors import Forbidden, NotFound
from services.identity import service as identity
from services.resources import curriculum
from services.resources import service as resources
from services.resources.repository import ResourceFilters
from services.viewing.service import FINISHED_AT
from services.web.pages import SignedInUser, render_page
from storage.models.identity import PublicationStatus, Role, Visibility

router = APIRouter(include_in_schema=False)

TASK_STATES = {"due": "待完成", "overdue": "已逾期", "done": "已完成", "returned": "退回重做"}
ROSTER_STATES = {
    "submitted": "已提交",
    "late": "迟交",
    "missing": "未交",
    "returned": "已退回",
    "graded": "已批改",
    "watched": "已看完",
}
GRADINGS = {"level": "等级（A/B/C/D）", "score": "分数", "none": "只写评语"}
CATEGORY_LABELS = {"image": "照片", "document": "文档", "audio": "录音", "video": "视频"}
# Labels every page of this module hands its templates.
CLASSROOM_CONTEXT: dict[str, Any] = {
    "TASK_STATES": TASK_STATES,
    "ROSTER_STATES": ROSTER_STATES,
    "GRADINGS": GRADINGS,
    "CATEGORY_LABELS": CATEGORY_LABELS,
    "WATCHED_PERCENT": round(FINISHED_AT * 100),
}


def _principal(user: SignedInUser) -> Principal:
    return Principal.of(user)


# -- students: 我的任务 --------------------------------------------------------------------------------


@router.get("/tasks", response_class=HTMLResponse)
async def my_tasks(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    state: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    principal = _principal(user)
    if principal.role != Role.student:
        return RedirectResponse("/assignments", status_code=303)
    reads = await assignment_reads(session, principal, await assignments.list_assignments(session, principal))
    counts = {key: sum(1 for read in reads if read.mine and read.mine.state == key) for key in TASK_STATES}
    shown = [read for read in reads if not state or (read.mine and read.mine.state == state)]
    # What is due comes first, soonest first; the rest newest first.
    shown.sort(key=lambda read: (read.mine is None or read.mine.state != "due", read.due_at.timestamp()))
    return await render_page(
        request,
        session,
        user,
        "classroom/tasks.html",
        tasks=shown,
        state=state,
        counts=counts,
        **CLASSROOM_CONTEXT,
    )


@router.get("/tasks/{assignment_id}", response_class=HTMLResponse)
async def task_page(
    request: Request, assignment_id: uuid.UUID, user: SignedInUser, session: SessionDep
) -> Response:
    principal = _principal(user)
    found = await assignments.access(session, principal, assignment_id)
    if principal.role != Role.student:
        return RedirectResponse(f"/assignments/{assignment_id}", status_code=303)
    (task,) = await assignment_reads(session, principal, [found.assignment])
    submission = None
    if task.mine and task.mine.submission_id:
        (submission,) = await submission_reads(
            session, [(await assignments.visible_submission(session, principal, task.mine.submission_id))[0]]
        )
    can_hand_in = True
    try:
        await assignments.prepare_submission(session, principal, assignment_id)
    except assignments.PastDue:
        can_hand_in = False
    return await render_page(
        request,
        session,
        user,
        "classroom/task.html",
        task=task,
        submission=submission,
        can_hand_in=can_hand_in,
        **CLASSROOM_CONTEXT,
    )


# -- teachers: giving and reviewing work -------------------------------------------------------------


def _require_teaching(principal: Principal) -> None:
    if principal.role == Role.student:
        raise Forbidden("This page is for teachers")


@router.get("/assignments", response_class=HTMLResponse)
async def assignments_page(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    principal = _principal(user)
    if principal.role == Role.student:
        return RedirectResponse("/tasks", status_code=303)
    reads = await assignment_reads(session, principal, await assignments.list_assignments(session, principal))
    return await render_page(
        request,
        session,
        user,
        "classroom/assignments.html",
        items=reads,
        can_assign=authz.can_assign(principal),
        **CLASSROOM_CONTEXT,
    )


@router.get("/assignments/new", response_class=HTMLResponse)
async def new_assignment(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    resource: Annotated[list[uuid.UUID] | None, Query(max_length=20)] = None,
) -> Response:
    principal = _principal(user)
    if not authz.can_assign(principal):
        raise Forbidden("Teachers give assignments")
    taught = await ClassRepository(session).taught_by(principal.user_id, classes.current_school_year())
    own, _ = await resources.list_resources(
        session,
        principal,
        ResourceFilters(owner_id=principal.user_id, status=PublicationStatus.published),
        sort="newest",
        offset=0,
        limit=100,
    )
    choices = [item for item in own if item.visibility != Visibility.private]
    chosen = {str(item) for item in resource or []}
    return await render_page(
        request,
        session,
        user,
        "classroom/assignment_new.html",
        classes=await class_reads(session, taught),
        resources=choices,
        chosen=chosen,
        **CLASSROOM_CONTEXT,
    )


@router.get("/assignments/{assignment_id}", response_class=HTMLResponse)
async def assignment_page(
    request: Request,
    assignment_id: uuid.UUID,
    user: SignedInUser,
    session: SessionDep,
    class_id: uuid.UUID | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    principal = _principal(user)
    if principal.role == Role.student:
        return RedirectResponse(f"/tasks/{assignment_id}", status_code=303)
    found = await assignments.access(session, principal, assignment_id)
    (read,) = await assignment_reads(session, principal, [found.assignment])
    overview = await roster_api(assignment_id, session, principal, class_id, q or None)
    class_names = {summary.class_id: summary.name for summary in overview.classes}
    return await render_page(
        request,
        session,
        user,
        "classroom/assignment.html",
        assignment=read,
        overview=overview,
        class_names=class_names,
        class_id=str(class_id) if class_id else "",
        q=q,
        is_teacher=principal.user_id == found.assignment.teacher_id,
        **CLASSROOM_CONTEXT,
    )


@router.get("/submissions", response_class=HTMLResponse)
async def search_work_page(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Teachers find their classes' work by a student's name or the words in it."""
    principal = _principal(user)
    _require_teaching(principal)
    hits = await submission_search.search_submissions(session, principal, q) if q.strip() else []
    return await render_page(
        request, session, user, "classroom/submission_search.html", q=q, hits=hits, **CLASSROOM_CONTEXT
    )


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
async def submission_page(
    request: Request, submission_id: uuid.UUID, user: SignedInUser, session: SessionDep
) -> Response:
    principal = _principal(user)
    submission, assignment, teaches = await assignments.visible_submission(session, principal, submission_id)
    (read,) = await submission_reads(session, [submission])
    (task,) = await assignment_reads(session, principal, [assignment])
    return await render_page(
        request,
        session,
        user,
        "classroom/submission.html",
        submission=read,
        task=task,
        can_review=authz.can_review_submission(principal, submission.student_id, teaches=teaches),
        **CLASSROOM_CONTEXT,
    )


# -- classes -----------------------------------------------------------------------------------------


@router.get("/classes", response_class=HTMLResponse)
async def classes_page(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    """My classes: a teacher's, or a student's own."""
    principal = _principal(user)
    if principal.role in (Role.school_admin, Role.district_admin):
        return RedirectResponse("/admin/classes", status_code=303)
    mine = await classes.list_classes(session, principal, None, None)
    return await render_page(
        request, session, user, "classroom/classes.html", classes=await class_reads(session, mine)
    )


def _require_class_admin(principal: Principal) -> uuid.UUID:
    if principal.role not in (Role.school_admin, Role.district_admin) or principal.school_id is None:
        raise Forbidden("Classes are managed by school administrators")
    return principal.school_id


@router.get("/admin/classes", response_class=HTMLResponse)
async def admin_classes(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    school_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    principal = _principal(user)
    school_id = _require_class_admin(principal)
    year = school_year or classes.current_school_year()
    listed = await classes.list_classes(session, principal, school_id, year)
    teachers, _ = await identity.list_users(
        session, principal, school_id=school_id, role=Role.teacher, text=None, offset=0, limit=500
    )
    return await render_page(
        request,
        session,
        user,
        "classroom/admin_classes.html",
        classes=await class_reads(session, listed),
        school_year=year,
        teachers=teachers,
    )


@router.get("/admin/classes/{class_id}", response_class=HTMLResponse)
async def admin_class(
    request: Request, class_id: uuid.UUID, user: SignedInUser, session: SessionDep
) -> Response:
    principal = _principal(user)
    school_class = await classes.visible_class(session, principal, class_id)
    if not authz.can_manage_classes(principal, school_class.school_id):
        raise NotFound("Class not found")
    students, _ = await identity.list_users(
        session,
        principal,
        school_id=school_class.school_id,
        role=Role.student,
        text=None,
        offset=0,
        limit=1000,
    )
    teachers, _ = await identity.list_users(
        session,
        principal,
        school_id=school_class.school_id,
        role=Role.teacher,
        text=None,
        offset=0,
        limit=500,
    )
    detail = await class_detail(session, school_class)
    members = {person.id for person in detail.students}
    return await render_page(
        request,
        session,
        user,
        "classroom/admin_class.html",
        detail=detail,
        candidates=[student for student in students if student.id not in members],
        teachers=teachers,
        subjects=curriculum.SUBJECTS,
    )
