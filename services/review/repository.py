"""All SQL of review: requests, their events, research leads' subjects, schools' review setting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from storage.models.identity import Role, School, User
from storage.models.review import (
    ReviewAction,
    ReviewEvent,
    ReviewLead,
    ReviewLevel,
    ReviewRequest,
    ReviewState,
    SchoolReviewSetting,
)


@dataclass(frozen=True)
class QueueFilters:
    subject_type: str | None = None
    subject: str | None = None
    stage: str | None = None
    school_id: uuid.UUID | None = None
    kind: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class EventRow:
    """A review event with where its request belongs, for statistics."""

    action: ReviewAction
    school_id: uuid.UUID | None
    subject: str | None
    waited_s: float | None


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- requests --------------------------------------------------------------------------------

    def add(self, *rows: ReviewRequest | ReviewEvent | ReviewLead | SchoolReviewSetting) -> None:
        self.session.add_all(rows)

    async def get(self, request_id: uuid.UUID, *, for_update: bool = False) -> ReviewRequest | None:
        query = select(ReviewRequest).where(ReviewRequest.id == request_id)
        if for_update:
            # Two reviewers deciding at once: the second waits, then finds it decided (409).
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def pending_for(
        self, subject_type: str, subject_id: uuid.UUID, *, for_update: bool = False
    ) -> ReviewRequest | None:
        query = select(ReviewRequest).where(
            ReviewRequest.subject_type == subject_type,
            ReviewRequest.subject_id == subject_id,
            ReviewRequest.state == ReviewState.pending,
        )
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def latest_for(self, subject_type: str, subject_id: uuid.UUID) -> ReviewRequest | None:
        return await self.session.scalar(
            select(ReviewRequest)
            .where(ReviewRequest.subject_type == subject_type, ReviewRequest.subject_id == subject_id)
            .order_by(ReviewRequest.submitted_at.desc())
            .limit(1)
        )

    async def open_for(self, subject_type: str, subject_id: uuid.UUID) -> list[ReviewRequest]:
        """Requests still waiting on someone: pending (reviewers), rejected or returned (the owner)."""
        rows = await self.session.scalars(
            select(ReviewRequest).where(
                ReviewRequest.subject_type == subject_type,
                ReviewRequest.subject_id == subject_id,
                ReviewRequest.state.in_((ReviewState.pending, ReviewState.rejected, ReviewState.returned)),
            )
        )
        return list(rows.all())

    async def events_of(self, request_id: uuid.UUID) -> list[ReviewEvent]:
        rows = await self.session.scalars(
            select(ReviewEvent).where(ReviewEvent.request_id == request_id).order_by(ReviewEvent.created_at)
        )
        return list(rows.all())

    async def users(self, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, User]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(select(User).where(User.id.in_(user_ids)))
        return {user.id: user for user in rows.all()}

    async def school_names(self, school_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not school_ids:
            return {}
        rows = await self.session.execute(select(School.id, School.name).where(School.id.in_(school_ids)))
        return {row.id: row.name for row in rows.all()}

    # -- the queue -------------------------------------------------------------------------------

    def _reviewable_by(self, principal: Principal) -> ColumnElement[bool]:
        """The SQL twin of authz.can_review_request, for pending requests."""
        not_own = ReviewRequest.owner_id != principal.user_id
        if principal.is_district_admin:
            return not_own
        if principal.role == Role.school_admin and principal.school_id is not None:
            return and_(
                not_own,
                ReviewRequest.level == ReviewLevel.school,
                ReviewRequest.school_id == principal.school_id,
            )
        if principal.role == Role.research_lead:
            leads = exists().where(
                ReviewLead.user_id == principal.user_id,
                ReviewLead.subject == ReviewRequest.subject,
                or_(ReviewLead.stage.is_(None), ReviewLead.stage == ReviewRequest.stage),
            )
            return and_(not_own, ReviewRequest.level == ReviewLevel.district, leads)
        return false()  # nobody else reviews anything

    async def queue(
        self, principal: Principal, filters: QueueFilters, *, offset: int, limit: int
    ) -> tuple[list[ReviewRequest], int]:
        conditions = [ReviewRequest.state == ReviewState.pending, self._reviewable_by(principal)]
        if filters.subject_type:
            conditions.append(ReviewRequest.subject_type == filters.subject_type)
        if filters.subject:
            conditions.append(ReviewRequest.subject == filters.subject)
        if filters.stage:
            conditions.append(ReviewRequest.stage == filters.stage)
        if filters.school_id:
            conditions.append(ReviewRequest.school_id == filters.school_id)
        if filters.kind:
            conditions.append(ReviewRequest.kind == filters.kind)
        if filters.text:
            conditions.append(func.lower(ReviewRequest.title).contains(filters.text.lower(), autoescape=True))
        total = await self.session.scalar(select(func.count()).select_from(ReviewRequest).where(*conditions))
        rows = await self.session.scalars(
            select(ReviewRequest)
            .where(*conditions)
            # Oldest first: whoever waited longest is looked at first.
            .order_by(ReviewRequest.submitted_at, ReviewRequest.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows.all()), int(total or 0)

    async def leads_subject(self, user_id: uuid.UUID, subject: str | None, stage: str | None) -> bool:
        if subject is None:
            return False
        found = await self.session.scalar(
            select(ReviewLead.id)
            .where(
                ReviewLead.user_id == user_id,
                ReviewLead.subject == subject,
                or_(ReviewLead.stage.is_(None), ReviewLead.stage == stage),
            )
            .limit(1)
        )
        return found is not None

    # -- research leads and school settings ------------------------------------------------------

    async def leads(self) -> list[tuple[ReviewLead, User]]:
        rows = await self.session.execute(
            select(ReviewLead, User)
            .join(User, User.id == ReviewLead.user_id)
            .order_by(ReviewLead.subject, ReviewLead.stage, User.display_name)
        )
        return [(lead, user) for lead, user in rows.all()]

    async def get_lead(self, lead_id: uuid.UUID) -> ReviewLead | None:
        return await self.session.get(ReviewLead, lead_id)

    async def find_lead(self, user_id: uuid.UUID, subject: str, stage: str | None) -> ReviewLead | None:
        stage_matches = ReviewLead.stage.is_(None) if stage is None else ReviewLead.stage == stage
        return await self.session.scalar(
            select(ReviewLead).where(
                ReviewLead.user_id == user_id, ReviewLead.subject == subject, stage_matches
            )
        )

    async def delete_lead(self, lead: ReviewLead) -> None:
        await self.session.execute(delete(ReviewLead).where(ReviewLead.id == lead.id))

    async def school_requires_review(self, school_id: uuid.UUID | None) -> bool:
        if school_id is None:
            return False
        required = await self.session.scalar(
            select(SchoolReviewSetting.review_required).where(SchoolReviewSetting.school_id == school_id)
        )
        return bool(required)

    async def school_setting(self, school_id: uuid.UUID) -> SchoolReviewSetting | None:
        return await self.session.get(SchoolReviewSetting, school_id)

    async def school_exists(self, school_id: uuid.UUID) -> bool:
        return await self.session.get(School, school_id) is not None

    # -- statistics ------------------------------------------------------------------------------

    async def events_for_stats(
        self, school_id: uuid.UUID | None, since: datetime | None, until: datetime | None
    ) -> list[EventRow]:
        query = select(
            ReviewEvent.action, ReviewRequest.school_id, ReviewRequest.subject, ReviewEvent.waited_s
        ).join(ReviewRequest, ReviewRequest.id == ReviewEvent.request_id)
        query = query.where(
            ReviewEvent.action.in_(
                (
                    ReviewAction.submitted,
                    ReviewAction.resubmitted,
                    ReviewAction.approved,
                    ReviewAction.rejected,
                    ReviewAction.returned,
                )
            )
        )
        if school_id is not None:
            query = query.where(ReviewRequest.school_id == school_id)
        if since is not None:
            query = query.where(ReviewEvent.created_at >= since)
        if until is not None:
            query = query.where(ReviewEvent.created_at < until)
        rows = await self.session.execute(query)
        return [EventRow(row.action, row.school_id, row.subject, row.waited_s) for row in rows.all()]

    async def pending_count(self, principal: Principal) -> int:
        total = await self.session.scalar(
            select(func.count())
            .select_from(ReviewRequest)
            .where(ReviewRequest.state == ReviewState.pending, self._reviewable_by(principal))
        )
        return int(total or 0)
