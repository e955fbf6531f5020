"""All SQL for research statistics: activity counted per person, in a period, within a school or not.

Each kind of activity is one grouped subquery per person; people are joined to them, so teachers are
ranked and paged, and schools totalled, by the database rather than by loading everyone.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, Subquery, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models.identity import Role, School, User
from storage.models.research import Post, ReviewComment, RubricScore, Topic
from storage.models.resources import Resource, ResourceFile, ResourceType, ResourceVersion
from storage.models.video import WatchDay

_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True)
class Window:
    """Who and when: the people of one school (or everyone), from since (inclusive) to until (exclusive)."""

    school_id: uuid.UUID | None
    since: datetime | None
    until: datetime | None

    def apply(
        self,
        query: Select[*_Ts],
        actor: InstrumentedAttribute[uuid.UUID] | ColumnElement[uuid.UUID],
        at: InstrumentedAttribute[datetime] | ColumnElement[datetime],
    ) -> Select[*_Ts]:
        if self.school_id is not None:
            query = query.where(actor.in_(select(User.id).where(User.school_id == self.school_id)))
        if self.since is not None:
            query = query.where(at >= self.since)
        if self.until is not None:
            query = query.where(at < self.until)
        return query


@dataclass(frozen=True)
class Counts:
    """What is counted; the first five make up how busy someone was."""

    topics_opened: int = 0
    posts_written: int = 0
    review_comments: int = 0
    rounds_scored: int = 0
    lessons: int = 0
    lessons_with_rounds: int = 0
    rounds: int = 0
    # 观课时长: minutes of colleagues' recordings watched (services/viewing), counted per day.
    watch_minutes: int = 0

    @classmethod
    def of(cls, values: Sequence[Any]) -> Counts:
        # SUM comes back as Decimal on PostgreSQL and NULL over no rows.
        return cls(*(int(value or 0) for value in values))


# Counts' fields by name, in their order: the order of the count columns queries select.
COUNTED = tuple(counted.name for counted in fields(Counts))
_BUSY = COUNTED[:5]


@dataclass(frozen=True)
class PersonCounts:
    user: User
    counts: Counts


@dataclass(frozen=True)
class SchoolCounts:
    # None: people who belong to no school (research leads, district admins).
    school_id: uuid.UUID | None
    people: int
    counts: Counts


def _per_person(
    window: Window, recording_types: Collection[ResourceType]
) -> tuple[list[Subquery], dict[str, ColumnElement[int]]]:
    """The activity subqueries (user_id plus counts) and, by name, each count as a column that is 0 for
    people without that activity."""
    topics = window.apply(
        select(Topic.owner_id.label("user_id"), func.count().label("topics_opened")).group_by(Topic.owner_id),
        Topic.owner_id,
        Topic.created_at,
    ).subquery()
    posts = window.apply(
        select(Post.author_id.label("user_id"), func.count().label("posts_written"))
        .where(Post.deleted_at.is_(None))
        .group_by(Post.author_id),
        Post.author_id,
        Post.created_at,
    ).subquery()
    # Comments and replies on colleagues' lessons; a teacher's notes on their own lesson are not review.
    comments = window.apply(
        select(ReviewComment.author_id.label("user_id"), func.count().label("review_comments"))
        .join(Resource, Resource.id == ReviewComment.resource_id)
        .where(ReviewComment.deleted_at.is_(None), Resource.owner_id != ReviewComment.author_id)
        .group_by(ReviewComment.author_id),
        ReviewComment.author_id,
        ReviewComment.created_at,
    ).subquery()
    # A round counts in the period the reviewer first scored it (with any rubric): scoring it again
    # later corrects the scores, it is not new activity.
    first_scored = (
        select(
            RubricScore.reviewer_id,
            RubricScore.version_id,
            func.min(RubricScore.created_at).label("first_scored_at"),
        )
        .group_by(RubricScore.reviewer_id, RubricScore.version_id)
        .subquery()
    )
    scored = window.apply(
        select(first_scored.c.reviewer_id.label("user_id"), func.count().label("rounds_scored")).group_by(
            first_scored.c.reviewer_id
        ),
        first_scored.c.reviewer_id,
        first_scored.c.first_scored_at,
    ).subquery()
    rounds = (
        select(ResourceVersion.resource_id, func.count().label("rounds"))
        .group_by(ResourceVersion.resource_id)
        .subquery()
    )
    lessons = window.apply(
        select(
            Resource.owner_id.label("user_id"),
            func.count().label("lessons"),
            func.sum(case((rounds.c.rounds > 1, 1), else_=0)).label("lessons_with_rounds"),
            func.sum(rounds.c.rounds).label("rounds"),
        )
        .join(rounds, rounds.c.resource_id == Resource.id)
        .where(Resource.resource_type.in_(recording_types))
        .group_by(Resource.owner_id),
        Resource.owner_id,
        Resource.created_at,
    ).subquery()
    subqueries = [topics, posts, comments, scored, lessons, _watched(window)]
    columns: dict[str, ColumnElement[int]] = {}
    for subquery in subqueries:
        for column in subquery.c:
            if column.name != "user_id":
                columns[column.name] = func.coalesce(column, 0)
    return subqueries, {name: columns[name] for name in COUNTED}


def _watched(window: Window) -> Subquery:
    """Minutes of colleagues' recordings each person watched (new seconds, as kept per day), within
    the window's days: a day counts when it starts in the period (since/until are day-precise here)."""
    query = (
        select(WatchDay.viewer_id.label("user_id"), (func.sum(WatchDay.seconds) / 60).label("watch_minutes"))
        .join(ResourceFile, ResourceFile.id == WatchDay.file_id)
        .join(Resource, Resource.id == ResourceFile.resource_id)
        .where(Resource.owner_id != WatchDay.viewer_id)
        .group_by(WatchDay.viewer_id)
    )
    if window.school_id is not None:
        query = query.where(WatchDay.viewer_id.in_(select(User.id).where(User.school_id == window.school_id)))
    if window.since is not None:
        first = (
            window.since.date() if window.since.time() == time() else window.since.date() + timedelta(days=1)
        )
        query = query.where(WatchDay.day >= first)
    if window.until is not None:
        query = query.where(
            WatchDay.day < window.until.date()
            if window.until.time() == time()
            else WatchDay.day <= window.until.date()
        )
    return query.subquery()


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _people(
        self, window: Window, recording_types: Collection[ResourceType], *columns: Any
    ) -> tuple[Select[Any], dict[str, ColumnElement[int]], ColumnElement[int]]:
        """Everyone who takes part in teaching research (all but students) of the window's school,
        active or with activity in the period, joined to their counts; and how busy each was."""
        subqueries, counts = _per_person(window, recording_types)
        busy: ColumnElement[int] = sum((counts[name] for name in _BUSY[1:]), counts[_BUSY[0]])
        query = select(*columns)
        for subquery in subqueries:
            query = query.outerjoin(subquery, subquery.c.user_id == User.id)
        query = query.where(User.role != Role.student, or_(User.is_active.is_(True), busy > 0))
        if window.school_id is not None:
            query = query.where(User.school_id == window.school_id)
        return query, counts, busy

    async def people_page(
        self,
        window: Window,
        recording_types: Collection[ResourceType],
        *,
        offset: int,
        limit: int,
    ) -> tuple[list[PersonCounts], int]:
        """One page of people, busiest first, and how many there are in all."""
        query, counts, busy = self._people(window, recording_types, User)
        query = query.add_columns(*counts.values())
        rows = await self.session.execute(
            query.order_by(busy.desc(), User.display_name, User.id).offset(offset).limit(limit)
        )
        page = [PersonCounts(user, Counts.of(values)) for user, *values in rows.all()]
        everyone, _, _ = self._people(window, recording_types, User.id)
        total = await self.session.scalar(select(func.count()).select_from(everyone.subquery()))
        return page, int(total or 0)

    async def per_school(
        self, window: Window, recording_types: Collection[ResourceType]
    ) -> dict[uuid.UUID | None, SchoolCounts]:
        """The same people's activity summed per school (None: people of no school)."""
        query, counts, _ = self._people(window, recording_types, User.school_id, func.count())
        query = query.add_columns(*(func.sum(column) for column in counts.values()))
        rows = await self.session.execute(query.group_by(User.school_id))
        return {
            school_id: SchoolCounts(school_id, int(people), Counts.of(values))
            for school_id, people, *values in rows.all()
        }

    async def schools(self, school_id: uuid.UUID | None) -> list[School]:
        query = select(School).order_by(School.name)
        if school_id is not None:
            query = query.where(School.id == school_id)
        return list((await self.session.scalars(query)).all())
