"""HTTP for approval before district-wide publishing (审核): the queue, decisions, resubmission, a
subject's review state, research leads' subjects, schools' review setting, statistics."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from services.deps import SessionDep
from services.identity.deps import CurrentPrincipal
from services.research.stats.schemas import UTCMoment
from services.review import service
from services.review.repository import QueueFilters
from services.review.schemas import (
    Decision,
    QueueCount,
    ReasonedDecision,
    Resubmission,
    ReviewLeadCreate,
    ReviewLeadRead,
    ReviewRequestDetail,
    ReviewRequestRead,
    ReviewStats,
    SchoolReviewRead,
    SchoolReviewUpdate,
    SubjectReview,
)
from services.schemas import Page
from storage.models.review import ReviewAction

router = APIRouter(prefix="/api/v1/review", tags=["review"])

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not allowed (not a reviewer of it, or not its owner)"},
    404: {"description": "No such request, or not one the caller may see"},
    409: {"description": "Not pending (already decided or withdrawn), or already exists"},
}


@router.get("/queue", response_model=Page[ReviewRequestRead], responses=ERRORS)
async def review_queue(
    principal: CurrentPrincipal,
    session: SessionDep,
    subject_type: Annotated[str | None, Query(max_length=32)] = None,
    subject: Annotated[str | None, Query(max_length=32, description="学科, e.g. 语文")] = None,
    stage: Annotated[str | None, Query(max_length=8, description="学段, e.g. 小学")] = None,
    school_id: uuid.UUID | None = None,
    kind: Annotated[str | None, Query(max_length=32, description="e.g. the resource type")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Words in the title")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[ReviewRequestRead]:
    """Pending requests this user may decide on, oldest first: research leads those of their subjects
    and stages, school admins their school's school-level ones, district admins all."""
    filters = QueueFilters(
        subject_type=subject_type,
        subject=subject or None,
        stage=stage or None,
        school_id=school_id,
        kind=kind or None,
        text=(q or "").strip() or None,
    )
    items, total = await service.queue(session, principal, filters, offset=offset, limit=limit)
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.get("/queue/count", response_model=QueueCount)
async def review_queue_count(principal: CurrentPrincipal, session: SessionDep) -> QueueCount:
    """How many requests wait for this user (0 for people who review nothing)."""
    return QueueCount(pending=await service.queue_count(session, principal))


@router.get("/requests/{request_id}", response_model=ReviewRequestDetail, responses=ERRORS)
async def read_request(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> ReviewRequestDetail:
    """A request with its audit trail: for its owner, its reviewers and district admins."""
    return await service.request_detail(session, principal, request_id)


@router.post("/requests/{request_id}/approve", response_model=ReviewRequestDetail, responses=ERRORS)
async def approve(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, data: Decision | None = None
) -> ReviewRequestDetail:
    """Grant the requested visibility; the owner is notified."""
    reason = data.reason if data else ""
    return await service.decide(session, principal, request_id, ReviewAction.approved, reason)


@router.post("/requests/{request_id}/reject", response_model=ReviewRequestDetail, responses=ERRORS)
async def reject(
    request_id: uuid.UUID, data: ReasonedDecision, principal: CurrentPrincipal, session: SessionDep
) -> ReviewRequestDetail:
    """Refuse it, with a reason (422 without one); the subject stays shown as it was meanwhile."""
    return await service.decide(session, principal, request_id, ReviewAction.rejected, data.reason)


@router.post("/requests/{request_id}/return", response_model=ReviewRequestDetail, responses=ERRORS)
async def return_for_changes(
    request_id: uuid.UUID, data: ReasonedDecision, principal: CurrentPrincipal, session: SessionDep
) -> ReviewRequestDetail:
    """Send it back for changes (退回修改), with a reason; the owner changes it and resubmits."""
    return await service.decide(session, principal, request_id, ReviewAction.returned, data.reason)


@router.post("/requests/{request_id}/resubmit", response_model=ReviewRequestDetail, responses=ERRORS)
async def resubmit(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, data: Resubmission | None = None
) -> ReviewRequestDetail:
    """Its owner puts a rejected or returned request back in the queue."""
    return await service.resubmit(session, principal, request_id, data.note if data else "")


@router.get("/subjects/{subject_type}/{subject_id}", response_model=SubjectReview, responses=ERRORS)
async def subject_review(
    subject_type: Annotated[str, Path(max_length=32)],
    subject_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> SubjectReview:
    """The latest review request about e.g. a resource (`/subjects/resource/{id}`), for its owner and
    reviewers; `{"request": null}` for anyone else or when nothing was ever reviewed."""
    return await service.subject_review(session, principal, subject_type, subject_id)


@router.get("/leads", response_model=list[ReviewLeadRead], responses=ERRORS)
async def list_leads(principal: CurrentPrincipal, session: SessionDep) -> list[ReviewLeadRead]:
    """Which research lead reviews which subject and stage (district admins: all; a lead: theirs)."""
    return await service.list_leads(session, principal)


@router.post("/leads", response_model=ReviewLeadRead, status_code=201, responses=ERRORS)
async def add_lead(
    data: ReviewLeadCreate, principal: CurrentPrincipal, session: SessionDep
) -> ReviewLeadRead:
    """District admins: make a research lead a reviewer of a subject (in one stage, or all)."""
    return await service.add_lead(session, principal, data)


@router.delete("/leads/{lead_id}", status_code=204, responses=ERRORS)
async def remove_lead(lead_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    await service.remove_lead(session, principal, lead_id)
    return Response(status_code=204)


@router.get("/schools/{school_id}", response_model=SchoolReviewRead, responses=ERRORS)
async def read_school_review(
    school_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> SchoolReviewRead:
    return await service.school_review(session, principal, school_id)


@router.put("/schools/{school_id}", response_model=SchoolReviewRead, responses=ERRORS)
async def set_school_review(
    school_id: uuid.UUID, data: SchoolReviewUpdate, principal: CurrentPrincipal, session: SessionDep
) -> SchoolReviewRead:
    """Whether the school's admins review what its teachers publish to the school."""
    return await service.set_school_review(session, principal, school_id, data.review_required)


@router.get("/stats", response_model=ReviewStats, responses=ERRORS)
async def review_stats(
    principal: CurrentPrincipal,
    session: SessionDep,
    school_id: uuid.UUID | None = None,
    since: Annotated[UTCMoment | None, Query(description="From (inclusive)")] = None,
    until: Annotated[UTCMoment | None, Query(description="Until (exclusive)")] = None,
) -> ReviewStats:
    """Submissions, approvals, rejections, returns and median time to review, per school and subject;
    scoped like the research statistics (school admins: their school)."""
    return await service.review_stats(session, principal, school_id=school_id, since=since, until=until)
