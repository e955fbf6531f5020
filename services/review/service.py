"""Review use cases: the queue, decisions (approve, reject, return), resubmission, the audit trail,
research leads' subjects, schools' review setting, and review statistics.

Filing requests happens in services/review/gate.py, called by the domain whose subject changes.
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.errors import AppError, Conflict, Forbidden, NotFound
from services.notifications import service as notifications
from services.review import gate
from services.review.registry import SubjectType, subject_type
from services.review.repository import EventRow, QueueFilters, ReviewRepository
from services.review.schemas import (
    ReviewCounts,
    ReviewEventRead,
    ReviewLeadCreate,
    ReviewLeadRead,
    ReviewRequestDetail,
    ReviewRequestRead,
    ReviewStats,
    SchoolReviewCounts,
    SchoolReviewRead,
    SubjectReview,
    SubjectReviewCounts,
)
from storage.database import utcnow
from storage.models.identity import Role
from storage.models.research import NotificationKind
from storage.models.review import (
    ReviewAction,
    ReviewLead,
    ReviewRequest,
    ReviewState,
    SchoolReviewSetting,
)

_DECISIONS = {
    ReviewAction.approved: (ReviewState.approved, "通过了"),
    ReviewAction.rejected: (ReviewState.rejected, "未通过"),
    ReviewAction.returned: (ReviewState.returned, "退回修改"),
}
_VISIBILITY_NAMES = {"private": "仅自己", "school": "本校", "district": "全区", "public": "公开"}


def _handler(name: str) -> SubjectType:
    handler = subject_type(name)
    if handler is None:  # a request of a type this build does not know: nothing to act on
        raise Conflict(f"Review of {name} is not available")
    return handler


# -- reading ------------------------------------------------------------------------------------


async def _readable_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, for_update: bool = False
) -> tuple[ReviewRequest, bool]:
    """The request and whether this user may decide on it; 404 for anyone who is neither its owner
    nor one of its reviewers (district admins see every request)."""
    repository = ReviewRepository(session)
    request = await repository.get(request_id, for_update=for_update)
    if request is None:
        raise NotFound("Review request not found")
    may_decide = await gate.may_review(repository, principal, request)
    if not (may_decide or request.owner_id == principal.user_id or principal.is_district_admin):
        raise NotFound("Review request not found")
    return request, may_decide


async def _reads(session: AsyncSession, requests: list[ReviewRequest]) -> list[ReviewRequestRead]:
    repository = ReviewRepository(session)
    users = await repository.users({request.owner_id for request in requests})
    schools = await repository.school_names({request.school_id for request in requests if request.school_id})
    reads = []
    for request in requests:
        handler = subject_type(request.subject_type)
        owner = users.get(request.owner_id)
        reads.append(
            ReviewRequestRead.model_validate(request).model_copy(
                update={
                    "subject_url": handler.page_url(request.subject_id) if handler else None,
                    "owner_name": owner.display_name if owner else None,
                    "school_name": schools.get(request.school_id) if request.school_id else None,
                }
            )
        )
    return reads


async def _detail(
    session: AsyncSession, principal: Principal, request: ReviewRequest, may_decide: bool
) -> ReviewRequestDetail:
    repository = ReviewRepository(session)
    (read,) = await _reads(session, [request])
    events = await repository.events_of(request.id)
    actors = await repository.users({event.actor_id for event in events if event.actor_id})
    names = {user_id: user.display_name for user_id, user in actors.items()}
    return ReviewRequestDetail(
        **read.model_dump(),
        events=[
            ReviewEventRead.model_validate(event).model_copy(
                update={"actor_name": names.get(event.actor_id) if event.actor_id else None}
            )
            for event in events
        ],
        can_decide=may_decide and request.state == ReviewState.pending,
        can_resubmit=request.owner_id == principal.user_id
        and request.state in (ReviewState.rejected, ReviewState.returned),
    )


async def request_detail(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> ReviewRequestDetail:
    request, may_decide = await _readable_request(session, principal, request_id)
    return await _detail(session, principal, request, may_decide)


async def subject_review(
    session: AsyncSession, principal: Principal, subject_type_name: str, subject_id: uuid.UUID
) -> SubjectReview:
    """The latest request about a subject, for its owner and its reviewers; nothing for anyone else
    (whether something waits for review is not everyone's business)."""
    repository = ReviewRepository(session)
    request = await repository.latest_for(subject_type_name, subject_id)
    if request is None:
        return SubjectReview(request=None)
    may_decide = await gate.may_review(repository, principal, request)
    if not (may_decide or request.owner_id == principal.user_id or principal.is_district_admin):
        return SubjectReview(request=None)
    return SubjectReview(request=await _detail(session, principal, request, may_decide))


def _check_reviewer(principal: Principal) -> None:
    if principal.role not in (Role.research_lead, Role.school_admin, Role.district_admin):
        raise Forbidden("The review queue is for research leads and administrators")


async def queue(
    session: AsyncSession, principal: Principal, filters: QueueFilters, *, offset: int, limit: int
) -> tuple[list[ReviewRequestRead], int]:
    _check_reviewer(principal)
    requests, total = await ReviewRepository(session).queue(principal, filters, offset=offset, limit=limit)
    return await _reads(session, requests), total


async def queue_count(session: AsyncSession, principal: Principal) -> int:
    if principal.role not in (Role.research_lead, Role.school_admin, Role.district_admin):
        return 0
    return await ReviewRepository(session).pending_count(principal)


# -- deciding -----------------------------------------------------------------------------------


async def decide(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, action: ReviewAction, reason: str
) -> ReviewRequestDetail:
    request, may_decide = await _readable_request(session, principal, request_id, for_update=True)
    if request.state != ReviewState.pending:
        raise Conflict(f"This request is {request.state.value}, not pending")
    if not may_decide:
        raise Forbidden("You may not decide on this request")
    repository = ReviewRepository(session)
    handler = _handler(request.subject_type)
    info = await handler.load(session, request.subject_id)
    if info is None:
        raise Conflict("What this request was about no longer exists")
    state, verb = _DECISIONS[action]
    now = utcnow()
    waited = max(0.0, (now - request.submitted_at).total_seconds())
    if action == ReviewAction.approved:
        await handler.approve(session, request.subject_id, request.requested_visibility)
        granted = request.requested_visibility
        request.effective_visibility = granted
    else:
        await handler.reject(session, request.subject_id, request.effective_visibility, reason)
        granted = request.effective_visibility
    request.state = state
    request.decided_at = now
    request.decided_by_id = principal.user_id
    request.reason = reason
    gate.record(
        repository, request, action, principal.user_id, reason=reason, granted=granted, waited_s=waited
    )
    reviewer = await notifications.actor_name(session, principal.user_id)
    wanted = _VISIBILITY_NAMES.get(request.requested_visibility.value, request.requested_visibility.value)
    text = f"{reviewer} {verb}《{info.title}》的{wanted}发布审核" + (f"：{reason}" if reason else "")
    notifications.notify(
        session,
        [request.owner_id],
        NotificationKind.review_decided,
        actor_id=principal.user_id,
        subject={"request_id": request.id, "url": handler.page_url(request.subject_id)},
        text=text,
    )
    await session.flush()
    return await _detail(session, principal, request, may_decide)


async def resubmit(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, note: str
) -> ReviewRequestDetail:
    """The owner sends a rejected or returned request back to the queue (after changing the subject)."""
    request, may_decide = await _readable_request(session, principal, request_id, for_update=True)
    if request.owner_id != principal.user_id:
        raise Forbidden("Only its owner resubmits a request")
    if request.state not in (ReviewState.rejected, ReviewState.returned):
        raise Conflict(
            f"This request is {request.state.value}; only rejected or returned ones are resubmitted"
        )
    repository = ReviewRepository(session)
    if await repository.pending_for(request.subject_type, request.subject_id) is not None:
        raise Conflict("Another request about this is already waiting for review")
    info = await _handler(request.subject_type).load(session, request.subject_id)
    if info is None:
        raise NotFound("Review request not found")
    gate.copy_subject(request, info)
    request.state = ReviewState.pending
    request.submitted_at = utcnow()
    request.decided_at = None
    request.decided_by_id = None
    request.reason = ""
    gate.record(repository, request, ReviewAction.resubmitted, principal.user_id, reason=note.strip())
    await session.flush()
    return await _detail(session, principal, request, may_decide)


# -- research leads and school settings -----------------------------------------------------------


def _lead_read(lead: ReviewLead, username: str, display_name: str) -> ReviewLeadRead:
    return ReviewLeadRead(
        id=lead.id,
        user_id=lead.user_id,
        username=username,
        display_name=display_name,
        subject=lead.subject,
        stage=lead.stage,
    )


async def list_leads(session: AsyncSession, principal: Principal) -> list[ReviewLeadRead]:
    if not (authz.can_manage_review_leads(principal) or principal.role == Role.research_lead):
        raise Forbidden("Review assignments are for district administrators and research leads")
    return [
        _lead_read(lead, user.username, user.display_name)
        for lead, user in await ReviewRepository(session).leads()
        if principal.is_district_admin or lead.user_id == principal.user_id
    ]


async def add_lead(session: AsyncSession, principal: Principal, data: ReviewLeadCreate) -> ReviewLeadRead:
    if not authz.can_manage_review_leads(principal):
        raise Forbidden("Only district administrators assign reviewers")
    repository = ReviewRepository(session)
    users = await repository.users({data.user_id})
    user = users.get(data.user_id)
    if user is None:
        raise NotFound("User not found")
    if user.role != Role.research_lead:
        raise Conflict("Only research leads (教研员) review subjects; district administrators review all")
    if await repository.find_lead(user.id, data.subject, data.stage) is not None:
        raise Conflict("This research lead already reviews that subject and stage")
    lead = ReviewLead(
        id=uuid.uuid4(), user_id=user.id, subject=data.subject, stage=data.stage, created_at=utcnow()
    )
    repository.add(lead)
    await session.flush()
    return _lead_read(lead, user.username, user.display_name)


async def remove_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID) -> None:
    if not authz.can_manage_review_leads(principal):
        raise Forbidden("Only district administrators assign reviewers")
    repository = ReviewRepository(session)
    lead = await repository.get_lead(lead_id)
    if lead is None:
        raise NotFound("Review assignment not found")
    await repository.delete_lead(lead)


async def school_review(
    session: AsyncSession, principal: Principal, school_id: uuid.UUID
) -> SchoolReviewRead:
    repository = ReviewRepository(session)
    if not await repository.school_exists(school_id):
        raise NotFound("School not found")
    if not authz.can_set_school_review(principal, school_id):
        raise Forbidden("A school's review setting is for its administrators and the district's")
    return SchoolReviewRead(
        school_id=school_id, review_required=await repository.school_requires_review(school_id)
    )


async def set_school_review(
    session: AsyncSession, principal: Principal, school_id: uuid.UUID, required: bool
) -> SchoolReviewRead:
    await school_review(session, principal, school_id)
    repository = ReviewRepository(session)
    setting = await repository.school_setting(school_id)
    if setting is None:
        repository.add(
            SchoolReviewSetting(school_id=school_id, review_required=required, updated_at=utcnow())
        )
    else:
        setting.review_required = required
        setting.updated_at = utcnow()
    await session.flush()
    return SchoolReviewRead(school_id=school_id, review_required=required)


# -- statistics ---------------------------------------------------------------------------------


def _counts(rows: Iterable[EventRow]) -> dict[str, int | float | None]:
    listed = list(rows)
    waits = [row.waited_s for row in listed if row.waited_s is not None]
    return {
        "submissions": sum(
            row.action in (ReviewAction.submitted, ReviewAction.resubmitted) for row in listed
        ),
        "approvals": sum(row.action == ReviewAction.approved for row in listed),
        "rejections": sum(row.action == ReviewAction.rejected for row in listed),
        "returns": sum(row.action == ReviewAction.returned for row in listed),
        "median_review_s": round(statistics.median(waits), 1) if waits else None,
    }


async def review_stats(
    session: AsyncSession,
    principal: Principal,
    *,
    school_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
) -> ReviewStats:
    """Submissions (and resubmissions), approvals, rejections, returns and the median time a request
    waited for its decision, per school and per subject; scoped as the research statistics are."""
    scope = authz.stats_scope(principal, school_id)
    if since is not None and until is not None and since >= until:
        raise AppError("since must come before until", 422, code="invalid_payload")
    repository = ReviewRepository(session)
    if scope is not None and not await repository.school_exists(scope):
        raise NotFound("School not found")
    rows = await repository.events_for_stats(scope, since, until)
    by_school: dict[uuid.UUID | None, list[EventRow]] = defaultdict(list)
    by_subject: dict[str | None, list[EventRow]] = defaultdict(list)
    for row in rows:
        by_school[row.school_id].append(row)
        by_subject[row.subject].append(row)
    names = await repository.school_names({key for key in by_school if key is not None})
    return ReviewStats(
        school_id=scope,
        since=since,
        until=until,
        totals=ReviewCounts(**_counts(rows)),
        schools=sorted(
            (
                SchoolReviewCounts(
                    school_id=key, school_name=names.get(key) if key else None, **_counts(value)
                )
                for key, value in by_school.items()
            ),
            key=lambda item: item.school_name or "",
        ),
        subjects=sorted(
            (SubjectReviewCounts(subject=key, **_counts(value)) for key, value in by_subject.items()),
            key=lambda item: item.subject or "",
        ),
    )
