"""Where publishing meets review: the owning domain (resources; collections later) asks here, in the
same transaction as its change, what its subject may show now, and a request is filed when a change
needs review. This module knows no subject type; the domains call it with a `SubjectInfo`.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.review import rules
from services.review.registry import SubjectInfo
from services.review.repository import ReviewRepository
from storage.database import utcnow
from storage.models.identity import Visibility
from storage.models.review import (
    ReviewAction,
    ReviewCause,
    ReviewEvent,
    ReviewLevel,
    ReviewRequest,
    ReviewState,
)


def record(
    repository: ReviewRepository,
    request: ReviewRequest,
    action: ReviewAction,
    actor_id: uuid.UUID | None,
    *,
    reason: str = "",
    granted: Visibility | None = None,
    waited_s: float | None = None,
) -> ReviewEvent:
    event = ReviewEvent(
        id=uuid.uuid4(),
        request_id=request.id,
        actor_id=actor_id,
        action=action,
        reason=reason,
        requested_visibility=request.requested_visibility,
        granted_visibility=granted or request.effective_visibility,
        waited_s=waited_s,
        created_at=utcnow(),
    )
    repository.add(event)
    return event


def copy_subject(request: ReviewRequest, info: SubjectInfo) -> None:
    """What the queue filters and searches by, as the subject is now."""
    request.owner_id = info.owner_id
    request.school_id = info.school_id
    request.title = info.title[:200]
    request.subject = info.subject
    request.stage = info.stage
    request.kind = info.kind


async def request_visibility(
    session: AsyncSession,
    principal: Principal,
    info: SubjectInfo,
    *,
    requested: Visibility,
    approved: Visibility | None,
    cause: ReviewCause,
    visibility_chosen: bool,
) -> Visibility:
    """The visibility the subject shows from now on, filing (or joining) a review request when the
    change needs one.

    `requested`: what the owner wants it shown to; `approved`: what it was shown to before this change
    (None if new or unpublished); `cause`: what changed; `visibility_chosen`: the caller set the
    visibility just now (a narrower choice then withdraws a waiting request).
    """
    repository = ReviewRepository(session)
    school_requires = await repository.school_requires_review(info.school_id)
    level = rules.level_needed(requested, approved, cause, school_requires_review=school_requires)
    pending = await repository.pending_for(info.subject_type, info.subject_id, for_update=True)
    if level is None or authz.publishes_without_review(principal, level.value, info.school_id):
        if pending is not None and visibility_chosen:
            # Narrowed by its owner, or set by a district admin: nothing is left to decide. (Other
            # edits, a district admin's typo fix included, leave the request waiting.)
            _withdraw(repository, pending, principal.user_id, requested)
        return requested
    shown = rules.shown_meanwhile(
        requested, approved, level, school_id=info.school_id, school_requires_review=school_requires
    )
    if pending is not None:
        copy_subject(pending, info)
        pending.requested_visibility = requested
        pending.effective_visibility = shown
        # A district request covers a school one; never the other way round.
        if level == ReviewLevel.district:
            pending.level = level
        record(repository, pending, ReviewAction.updated, principal.user_id, reason=cause.value)
        return shown
    request = ReviewRequest(
        id=uuid.uuid4(),
        subject_type=info.subject_type,
        subject_id=info.subject_id,
        level=level,
        cause=cause,
        requested_visibility=requested,
        effective_visibility=shown,
        state=ReviewState.pending,
        submitted_at=utcnow(),
        reason="",
    )
    copy_subject(request, info)
    repository.add(request)
    record(repository, request, ReviewAction.submitted, principal.user_id, reason=cause.value)
    return shown


def _withdraw(
    repository: ReviewRepository, request: ReviewRequest, actor_id: uuid.UUID | None, shown: Visibility
) -> None:
    request.state = ReviewState.withdrawn
    request.decided_at = utcnow()
    record(repository, request, ReviewAction.withdrawn, actor_id, granted=shown)


async def withdraw(
    session: AsyncSession, subject_type: str, subject_id: uuid.UUID, actor_id: uuid.UUID | None
) -> None:
    """The subject is deleted or unpublished: its open requests end (kept in the audit trail)."""
    repository = ReviewRepository(session)
    for request in await repository.open_for(subject_type, subject_id):
        _withdraw(repository, request, actor_id, request.effective_visibility)


async def may_review_subject(
    session: AsyncSession, principal: Principal | None, subject_type: str, subject_id: uuid.UUID
) -> bool:
    """Whether this user may open the subject to decide on its waiting request (reviewers see what
    they review, even when it is shown to nobody else meanwhile)."""
    if principal is None:
        return False
    repository = ReviewRepository(session)
    pending = await repository.pending_for(subject_type, subject_id)
    return pending is not None and await may_review(repository, principal, pending)


async def may_review(repository: ReviewRepository, principal: Principal, request: ReviewRequest) -> bool:
    leads = principal.role.value == "research_lead" and await repository.leads_subject(
        principal.user_id, request.subject, request.stage
    )
    return authz.can_review_request(
        principal,
        level=request.level.value,
        owner_id=request.owner_id,
        school_id=request.school_id,
        leads_its_subject=leads,
    )
