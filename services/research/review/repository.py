"""All SQL for lesson review: timed comments, the observation framework, rubrics and their scores."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import User
from storage.models.research import (
    ObservationCategory,
    ReviewComment,
    Rubric,
    RubricCriterion,
    RubricScore,
)
from storage.models.resources import FilePurpose, ResourceFile, ResourceVersion


@dataclass(frozen=True)
class CommentRow:
    """A comment with what a timeline shows beside it."""

    comment: ReviewComment
    version: int
    author_name: str
    category_name: str | None

    @classmethod
    def of(cls, row: Row[ReviewComment, int, str, str | None]) -> CommentRow:
        comment, version, author_name, category_name = row
        return cls(comment, version, author_name, category_name)


@dataclass(frozen=True)
class CriterionAggregate:
    version_id: uuid.UUID
    criterion_id: uuid.UUID
    average: float
    count: int


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, *objects: ReviewComment | ObservationCategory | Rubric | RubricCriterion) -> None:
        self.session.add_all(objects)

    # -- comments ---------------------------------------------------------------------------------

    def _comment_rows(self) -> Select[ReviewComment, int, str, str | None]:
        return (
            select(ReviewComment, ResourceVersion.number, User.display_name, ObservationCategory.name)
            .join(ResourceVersion, ResourceVersion.id == ReviewComment.version_id)
            .join(User, User.id == ReviewComment.author_id)
            .outerjoin(ObservationCategory, ObservationCategory.id == ReviewComment.category_id)
        )

    async def get_comment(self, comment_id: uuid.UUID, *, for_update: bool = False) -> ReviewComment | None:
        query = select(ReviewComment).where(
            ReviewComment.id == comment_id, ReviewComment.deleted_at.is_(None)
        )
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def comment_row(self, comment_id: uuid.UUID) -> CommentRow:
        row = (
            await self.session.execute(
                self._comment_rows()
                .where(ReviewComment.id == comment_id)
                .execution_options(populate_existing=True)
            )
        ).one()
        return CommentRow.of(row)

    async def round_comments(self, version_id: uuid.UUID) -> list[CommentRow]:
        """Every comment and reply of one round, deleted ones included (the caller decides what shows)."""
        rows = await self.session.execute(
            self._comment_rows()
            .where(ReviewComment.version_id == version_id)
            .order_by(ReviewComment.created_at, ReviewComment.id)
        )
        return [CommentRow.of(row) for row in rows.all()]

    async def open_comments_before(self, resource_id: uuid.UUID, number: int) -> list[CommentRow]:
        """Unresolved, undeleted comments of the rounds before round `number`, with their replies."""
        open_ids = (
            select(ReviewComment.id)
            .join(ResourceVersion, ResourceVersion.id == ReviewComment.version_id)
            .where(
                ReviewComment.resource_id == resource_id,
                ResourceVersion.number < number,
                ReviewComment.parent_id.is_(None),
                ReviewComment.resolved_at.is_(None),
                ReviewComment.deleted_at.is_(None),
            )
        )
        rows = await self.session.execute(
            self._comment_rows()
            .where(or_(ReviewComment.id.in_(open_ids), ReviewComment.parent_id.in_(open_ids)))
            .order_by(ReviewComment.created_at, ReviewComment.id)
        )
        return [CommentRow.of(row) for row in rows.all()]

    async def video_duration(self, version_id: uuid.UUID) -> float | None:
        """How long the round's video is, once processing has measured it."""
        return await self.session.scalar(
            select(ResourceFile.duration_s)
            .where(
                ResourceFile.version_id == version_id,
                ResourceFile.purpose == FilePurpose.primary,
                ResourceFile.category == "video",
            )
            .order_by(ResourceFile.created_at)
            .limit(1)
        )

    async def get_version_by_id(self, version_id: uuid.UUID) -> ResourceVersion | None:
        return await self.session.get(ResourceVersion, version_id)

    async def versions(self, resource_id: uuid.UUID) -> list[ResourceVersion]:
        rows = await self.session.scalars(
            select(ResourceVersion)
            .where(ResourceVersion.resource_id == resource_id)
            .order_by(ResourceVersion.number)
        )
        return list(rows.all())

    async def lock_version(self, version_id: uuid.UUID) -> None:
        # Serializes scoring one round, so replacing a reviewer's scores never races with itself.
        await self.session.execute(
            select(ResourceVersion.id).where(ResourceVersion.id == version_id).with_for_update()
        )

    # -- observation framework --------------------------------------------------------------------

    async def categories(self, *, include_inactive: bool) -> list[ObservationCategory]:
        query = select(ObservationCategory)
        if not include_inactive:
            query = query.where(ObservationCategory.active.is_(True))
        rows = await self.session.scalars(
            query.order_by(ObservationCategory.position, ObservationCategory.name)
        )
        return list(rows.all())

    async def get_category(self, category_id: uuid.UUID) -> ObservationCategory | None:
        return await self.session.get(ObservationCategory, category_id)

    async def name_taken(
        self,
        kind: type[ObservationCategory] | type[Rubric],
        name: str,
        *,
        excluding: uuid.UUID | None = None,
    ) -> bool:
        """Whether a category or a rubric (as `kind` says), other than `excluding`, has this name."""
        query = select(kind.id).where(kind.name == name)
        if excluding is not None:
            query = query.where(kind.id != excluding)
        return await self.session.scalar(query.limit(1)) is not None

    async def next_category_position(self) -> int:
        current = await self.session.scalar(select(func.max(ObservationCategory.position)))
        return 0 if current is None else int(current) + 1

    async def delete_category(self, category: ObservationCategory) -> None:
        # Explicit rather than left to ON DELETE SET NULL, so it holds whatever the engine enforces.
        await self.session.execute(
            update(ReviewComment)
            .where(ReviewComment.category_id == category.id)
            .values(category_id=None)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(delete(ObservationCategory).where(ObservationCategory.id == category.id))
        self.session.expunge(category)

    # -- rubrics ----------------------------------------------------------------------------------

    async def rubrics(self, *, include_inactive: bool) -> list[Rubric]:
        query = select(Rubric)
        if not include_inactive:
            query = query.where(Rubric.active.is_(True))
        return list((await self.session.scalars(query.order_by(Rubric.name))).all())

    async def get_rubric(self, rubric_id: uuid.UUID) -> Rubric | None:
        return await self.session.get(Rubric, rubric_id)

    async def criteria(self, rubric_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[RubricCriterion]]:
        by_rubric: dict[uuid.UUID, list[RubricCriterion]] = {rubric_id: [] for rubric_id in rubric_ids}
        if not rubric_ids:
            return by_rubric
        rows = await self.session.scalars(
            select(RubricCriterion)
            .where(RubricCriterion.rubric_id.in_(rubric_ids))
            .order_by(RubricCriterion.rubric_id, RubricCriterion.position)
        )
        for criterion in rows.all():
            by_rubric[criterion.rubric_id].append(criterion)
        return by_rubric

    async def replace_scores(
        self,
        *,
        resource_id: uuid.UUID,
        version_id: uuid.UUID,
        reviewer_id: uuid.UUID,
        scores: dict[uuid.UUID, int],
        criterion_ids: Sequence[uuid.UUID],
        now: datetime,
    ) -> list[RubricScore]:
        """The reviewer's scores on this round for these criteria (one rubric), replaced by `scores`;
        each keeps the time it was first given."""
        theirs = and_(
            RubricScore.version_id == version_id,
            RubricScore.reviewer_id == reviewer_id,
            RubricScore.criterion_id.in_(criterion_ids),
        )
        first_scored: dict[uuid.UUID, datetime] = {
            criterion_id: created_at
            for criterion_id, created_at in (
                await self.session.execute(
                    select(RubricScore.criterion_id, RubricScore.created_at).where(theirs)
                )
            ).all()
        }
        await self.session.execute(delete(RubricScore).where(theirs))
        rows = [
            RubricScore(
                version_id=version_id,
                reviewer_id=reviewer_id,
                criterion_id=criterion_id,
                resource_id=resource_id,
                score=score,
                created_at=first_scored.get(criterion_id, now),
                updated_at=now,
            )
            for criterion_id, score in scores.items()
        ]
        self.session.add_all(rows)
        await self.session.flush()
        return rows

    async def scored_rubrics(self, resource_id: uuid.UUID) -> list[Rubric]:
        """The rubrics the lesson was scored with, by name."""
        scored = (
            select(RubricCriterion.rubric_id)
            .join(RubricScore, RubricScore.criterion_id == RubricCriterion.id)
            .where(RubricScore.resource_id == resource_id)
        )
        rows = await self.session.scalars(select(Rubric).where(Rubric.id.in_(scored)).order_by(Rubric.name))
        return list(rows.all())

    async def criterion_averages(
        self, resource_id: uuid.UUID, rubric_ids: Sequence[uuid.UUID]
    ) -> list[CriterionAggregate]:
        """Per round and criterion of these rubrics: the average score and how many gave one."""
        if not rubric_ids:
            return []
        rows = await self.session.execute(
            select(
                RubricScore.version_id,
                RubricScore.criterion_id,
                func.avg(RubricScore.score),
                func.count(),
            )
            .join(RubricCriterion, RubricCriterion.id == RubricScore.criterion_id)
            .where(RubricScore.resource_id == resource_id, RubricCriterion.rubric_id.in_(rubric_ids))
            .group_by(RubricScore.version_id, RubricScore.criterion_id)
        )
        return [
            CriterionAggregate(version_id, criterion_id, float(average), int(count))
            for version_id, criterion_id, average, count in rows.all()
        ]

    async def reviewer_counts(
        self, resource_id: uuid.UUID, rubric_ids: Sequence[uuid.UUID]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
        """(rubric id, round id) → how many reviewers scored that round with that rubric."""
        if not rubric_ids:
            return {}
        rows = await self.session.execute(
            select(
                RubricCriterion.rubric_id,
                RubricScore.version_id,
                func.count(RubricScore.reviewer_id.distinct()),
            )
            .join(RubricCriterion, RubricCriterion.id == RubricScore.criterion_id)
            .where(RubricScore.resource_id == resource_id, RubricCriterion.rubric_id.in_(rubric_ids))
            .group_by(RubricCriterion.rubric_id, RubricScore.version_id)
        )
        return {(rubric_id, version_id): int(count) for rubric_id, version_id, count in rows.all()}
