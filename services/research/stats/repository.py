"""All SQL for research statistics: activity counted per person, in a period, within a school or not."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models.identity import Role, School, User
from storage.models.research import Post, ReviewComment, RubricScore, Topic
from storage.models.resources import Resource, ResourceType, ResourceVersion

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
class LessonCounts:
    lessons: int
    rounds: int
    lessons_with_rounds: int


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _counts(self, query: Select[uuid.UUID, int]) -> dict[uuid.UUID, int]:
        return {actor: int(count) for actor, count in (await self.session.execute(query)).all()}

    async def topics_opened(self, window: Window) -> dict[uuid.UUID, int]:
        query = select(Topic.owner_id, func.count()).group_by(Topic.owner_id)
        return await self._counts(window.apply(query, Topic.owner_id, Topic.created_at))

    async def posts_written(self, window: Window) -> dict[uuid.UUID, int]:
        query = select(Post.author_id, func.count()).where(Post.deleted_at.is_(None)).group_by(Post.author_id)
        return await self._counts(window.apply(query, Post.author_id, Post.created_at))

    async def review_comments(self, window: Window) -> dict[uuid.UUID, int]:
        query = (
            select(ReviewComment.author_id, func.count())
            .join(Resource, Resource.id == ReviewComment.resource_id)
            .where(ReviewComment.deleted_at.is_(None), Resource.owner_id != ReviewComment.author_id)
            .group_by(ReviewComment.author_id)
        )
        return await self._counts(window.apply(query, ReviewComment.author_id, ReviewComment.created_at))

    async def rounds_scored(self, window: Window) -> dict[uuid.UUID, int]:
        """Rounds a reviewer scored, each counted in the period the reviewer first scored it (with any
        rubric): scoring it again later corrects the scores, it is not new activity."""
        first = (
            select(
                RubricScore.reviewer_id,
                RubricScore.version_id,
                func.min(RubricScore.created_at).label("first_scored_at"),
            )
            .group_by(RubricScore.reviewer_id, RubricScore.version_id)
            .subquery()
        )
        query = select(first.c.reviewer_id, func.count()).group_by(first.c.reviewer_id)
        return await self._counts(window.apply(query, first.c.reviewer_id, first.c.first_scored_at))

    async def lessons(
        self, window: Window, recording_types: Collection[ResourceType]
    ) -> dict[uuid.UUID, LessonCounts]:
        """Recorded lessons (of `recording_types`) per teacher, with the rounds they went through."""
        rounds = (
            select(ResourceVersion.resource_id, func.count().label("rounds"))
            .group_by(ResourceVersion.resource_id)
            .subquery()
        )
        query = (
            select(
                Resource.owner_id,
                func.count(),
                func.coalesce(func.sum(rounds.c.rounds), 0),
                func.coalesce(func.sum(case((rounds.c.rounds > 1, 1), else_=0)), 0),
            )
            .join(rounds, rounds.c.resource_id == Resource.id)
            .where(Resource.resource_type.in_(recording_types))
            .group_by(Resource.owner_id)
        )
        rows = await self.session.execute(window.apply(query, Resource.owner_id, Resource.created_at))
        return {
            owner: LessonCounts(int(lessons), int(total), int(several))
            for owner, lessons, total, several in rows.all()
        }

    async def people(self, school_id: uuid.UUID | None) -> list[User]:
        """Everyone who takes part in teaching research: all but students."""
        query = select(User).where(User.role != Role.student)
        if school_id is not None:
            query = query.where(User.school_id == school_id)
        return list((await self.session.scalars(query.order_by(User.display_name, User.id))).all())

    async def schools(self, school_id: uuid.UUID | None) -> list[School]:
        query = select(School).order_by(School.name)
        if school_id is not None:
            query = query.where(School.id == school_id)
        return list((await self.session.scalars(query)).all())
