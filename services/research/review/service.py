"""Lesson review (观课议课, 磨课): timed comments on a round of a recording, rubric scores, the framework.

Who may do what comes from services.authz: reading, commenting on and deleting the lesson, and the
review's own rules (who sees the review, edits, deletes and resolves a comment, scores a round, designs
the observation framework). State rules (replies are not resolved, retired rubrics take no scores)
live here.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Action, Principal
from services.errors import AppError, Conflict, Forbidden, NotFound
from services.notifications.service import actor_name, notify, readers_among
from services.research.review.repository import CommentRow, ReviewRepository
from services.research.review.schemas import (
    CategoryCreate,
    CategoryUpdate,
    CommentCreate,
    CommentUpdate,
    CriterionAverage,
    CriterionRead,
    ResourceScores,
    RoundScores,
    RubricCreate,
    RubricRounds,
    RubricUpdate,
    ScoresSubmit,
)
from services.research.service import record_revision, revision_history
from services.resources.repository import ResourceRepository
from services.resources.service import RECORDING_TYPES, load_resource, target_version
from storage.database import utcnow
from storage.models.research import (
    NotificationKind,
    ObservationCategory,
    ReviewComment,
    Revision,
    Rubric,
    RubricCriterion,
)
from storage.models.resources import Resource, ResourceVersion

REVISION_TYPE = "comment"


class InvalidReview(AppError):
    status_code = 422
    code = "invalid_payload"

    def __init__(self, message: str, field_path: list[str | int] | None = None) -> None:
        details = (
            [{"loc": ["body", *field_path], "msg": message, "type": "value_error"}] if field_path else None
        )
        super().__init__(message, details=details)


# -- shared ----------------------------------------------------------------------------------------


def _require_review_reader(principal: Principal | None, resource: Resource) -> None:
    """404 when the lesson is unreadable, 403 when the lesson is readable but its review is not."""
    authz.require(
        principal,
        resource,
        authz.can_see_review_scores(principal, resource),
        "A lesson's review is for its teacher and the colleagues who review it",
    )


def _require_recording(resource: Resource) -> None:
    if resource.resource_type not in RECORDING_TYPES:
        raise Conflict("Lessons are reviewed on their recording: only lesson records and micro-lessons")


async def _check_times(
    repository: ReviewRepository, version: ResourceVersion, start_s: float | None, end_s: float | None
) -> None:
    duration = await repository.video_duration(version.id)
    if duration is None:
        return  # not measured yet; the non-negative bound still holds
    for name, value in (("start_s", start_s), ("end_s", end_s)):
        if value is not None and value > duration:
            raise InvalidReview(
                f"{name} {value:g} is beyond the end of {version.label} ({duration:g} s)", [name]
            )


async def _check_category(
    repository: ReviewRepository, category_id: uuid.UUID | None
) -> ObservationCategory | None:
    if category_id is None:
        return None
    category = await repository.get_category(category_id)
    if category is None:
        raise InvalidReview("No such observation category", ["category_id"])
    if not category.active:
        raise InvalidReview(f"The observation category {category.name} is no longer in use", ["category_id"])
    return category


async def _review_readers(
    session: AsyncSession, resource: Resource, user_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Those of these users who may still see the lesson's review (in order): only they hear about it.
    A reviewer of a lesson since made school-only, or taken down, is no longer told about replies."""
    return await readers_among(
        session, user_ids, lambda reader: authz.can_see_review_scores(reader, resource)
    )


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = math.floor(seconds)
    return f" {whole // 60:02d}:{whole % 60:02d}"


# -- comments --------------------------------------------------------------------------------------


async def create_comment(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, data: CommentCreate
) -> CommentRow:
    resource = await load_resource(session, resource_id)
    authz.authorize(principal, Action.comment, resource)
    _require_recording(resource)
    repository = ReviewRepository(session)
    parent: ReviewComment | None = None
    if data.parent_id is not None:
        parent = await repository.get_comment(data.parent_id)
        if parent is None or parent.resource_id != resource.id:
            raise InvalidReview("parent_id names no comment on this lesson", ["parent_id"])
        if parent.parent_id is not None:
            raise InvalidReview("Reply to the comment itself; replies are not nested further", ["parent_id"])
        version = await repository.get_version_by_id(parent.version_id)
        assert version is not None  # the foreign key cascades
        if data.version is not None and data.version != version.number:
            raise InvalidReview(f"A reply belongs to its comment's round ({version.number})", ["version"])
    else:
        version = await target_version(session, resource, data.version)
    await _check_times(repository, version, data.start_s, data.end_s)
    await _check_category(repository, data.category_id)

    now = utcnow()
    comment = ReviewComment(
        id=uuid.uuid4(),
        resource_id=resource.id,
        version_id=version.id,
        parent_id=parent.id if parent else None,
        author_id=principal.user_id,
        start_s=data.start_s,
        end_s=data.end_s,
        category_id=data.category_id,
        body=data.body,
        created_at=now,
        updated_at=now,
    )
    repository.add(comment)
    await session.flush()

    actor = await actor_name(session, principal.user_id)
    subject: dict[str, Any] = {
        "resource_id": resource.id,
        "version": version.number,
        "comment_id": comment.id,
    }
    replied_to = parent.author_id if parent else None
    if parent is not None:
        notify(
            session,
            await _review_readers(session, resource, [parent.author_id]),
            NotificationKind.reply,
            actor_id=principal.user_id,
            subject={**subject, "parent_id": parent.id},
            text=f"{actor} 回复了你对《{resource.title}》{version.label}的评课意见",
        )
    if resource.owner_id != replied_to:
        notify(
            session,
            [resource.owner_id],
            NotificationKind.lesson_comment,
            actor_id=principal.user_id,
            subject=subject,
            text=f"{actor} 评论了你的《{resource.title}》{version.label}{_clock(data.start_s)}",
        )
    return await repository.comment_row(comment.id)


@dataclass
class Thread:
    """A comment as a timeline shows it, with its replies."""

    row: CommentRow
    replies: list[CommentRow] = field(default_factory=list)


@dataclass(frozen=True)
class TimelineView:
    resource: Resource
    version: ResourceVersion
    duration_s: float | None
    comments: list[Thread]
    carried_over: list[Thread]


def _threads(rows: list[CommentRow]) -> list[Thread]:
    """Comments with their live replies; a deleted comment stays only as long as replies hang off it."""
    threads = {row.comment.id: Thread(row) for row in rows if row.comment.parent_id is None}
    for row in rows:
        parent_id = row.comment.parent_id
        if parent_id is not None and row.comment.deleted_at is None and parent_id in threads:
            threads[parent_id].replies.append(row)
    return [thread for thread in threads.values() if thread.row.comment.deleted_at is None or thread.replies]


def _timeline_key(thread: Thread) -> tuple[int, float, datetime]:
    comment = thread.row.comment
    start = comment.start_s if comment.start_s is not None else math.inf
    return (thread.row.version, start, comment.created_at)


async def timeline(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, number: int | None
) -> TimelineView:
    resource = await load_resource(session, resource_id)
    _require_review_reader(principal, resource)
    version = await target_version(session, resource, number)
    repository = ReviewRepository(session)
    comments = _threads(await repository.round_comments(version.id))
    carried = _threads(await repository.open_comments_before(resource.id, version.number))
    return TimelineView(
        resource=resource,
        version=version,
        duration_s=await repository.video_duration(version.id),
        comments=sorted(comments, key=_timeline_key),
        carried_over=sorted(carried, key=_timeline_key),
    )


async def _comment_and_resource(
    session: AsyncSession, principal: Principal, comment_id: uuid.UUID, *, for_update: bool = True
) -> tuple[ReviewComment, Resource]:
    """A live comment on a lesson this user may read; 404 otherwise, as if it did not exist."""
    comment = await ReviewRepository(session).get_comment(comment_id, for_update=for_update)
    resource = await ResourceRepository(session).get(comment.resource_id) if comment else None
    if comment is None or resource is None or not authz.can(principal, Action.read, resource):
        raise NotFound("Comment not found")
    return comment, resource


async def update_comment(
    session: AsyncSession, principal: Principal, comment_id: uuid.UUID, data: CommentUpdate
) -> CommentRow:
    comment, resource = await _comment_and_resource(session, principal, comment_id)
    authz.require(
        principal,
        resource,
        authz.can_edit_comment(principal, resource, comment.author_id),
        "Only its author edits a comment",
    )
    repository = ReviewRepository(session)
    changes = data.model_dump(exclude_unset=True)
    if "body" in changes and changes["body"] is None:
        raise InvalidReview("body cannot be empty", ["body"])
    start_s = changes.get("start_s", comment.start_s)
    end_s = changes.get("end_s", comment.end_s)
    if start_s is None and comment.parent_id is None:
        raise InvalidReview("a comment needs start_s, the moment of the recording it is about", ["start_s"])
    if end_s is not None and (start_s is None or end_s <= start_s):
        raise InvalidReview("end_s must come after start_s", ["end_s"])
    if "start_s" in changes or "end_s" in changes:
        version = await repository.get_version_by_id(comment.version_id)
        assert version is not None
        await _check_times(repository, version, start_s, end_s)
    if changes.get("category_id") is not None and changes["category_id"] != comment.category_id:
        await _check_category(repository, changes["category_id"])

    now = utcnow()
    body = changes.get("body", comment.body)
    category_id = changes.get("category_id", comment.category_id)
    # One revision per edit that changes anything, keeping the body and whatever else it changed.
    previous_fields: dict[str, Any] = {
        name: before
        for name, before, after in (
            ("start_s", comment.start_s, start_s),
            ("end_s", comment.end_s, end_s),
            ("category_id", comment.category_id, category_id),
        )
        if before != after
    }
    if previous_fields or body != comment.body:
        record_revision(
            session,
            REVISION_TYPE,
            comment.id,
            body=comment.body,
            previous_fields=previous_fields,
            editor_id=principal.user_id,
            at=now,
        )
    comment.body = body
    comment.start_s, comment.end_s = start_s, end_s
    comment.category_id = category_id
    comment.edited_at = comment.updated_at = now
    await session.flush()
    return await repository.comment_row(comment.id)


async def comment_history(
    session: AsyncSession, principal: Principal, comment_id: uuid.UUID
) -> list[Revision]:
    """The comment before each edit, newest first; for whoever may read the comment in the timeline."""
    comment, resource = await _comment_and_resource(session, principal, comment_id, for_update=False)
    _require_review_reader(principal, resource)
    return await revision_history(session, REVISION_TYPE, comment.id)


async def delete_comment(session: AsyncSession, principal: Principal, comment_id: uuid.UUID) -> None:
    """The author, the lesson's teacher, or whoever may delete the lesson (administrators, moderators)."""
    comment, resource = await _comment_and_resource(session, principal, comment_id)
    authz.require(
        principal,
        resource,
        authz.can_delete_comment(principal, resource, comment.author_id),
        "Only its author, the lesson's teacher or a moderator deletes a comment",
    )
    now = utcnow()
    # The words go; the row stays so that replies keep their place.
    comment.body = ""
    comment.deleted_at = comment.updated_at = now


async def set_resolved(
    session: AsyncSession, principal: Principal, comment_id: uuid.UUID, *, resolved: bool
) -> CommentRow:
    comment, resource = await _comment_and_resource(session, principal, comment_id)
    authz.require(
        principal,
        resource,
        authz.can_resolve_comment(principal, resource, comment.author_id),
        "Only the lesson's teacher or the comment's author resolves it",
    )
    if comment.parent_id is not None:
        raise Conflict("Replies are not resolved; resolve the comment they answer")
    now = utcnow()
    if resolved and comment.resolved_at is None:
        comment.resolved_at, comment.resolved_by_id = now, principal.user_id
        comment.updated_at = now
    elif not resolved and comment.resolved_at is not None:
        comment.resolved_at, comment.resolved_by_id = None, None
        comment.updated_at = now
    await session.flush()
    return await ReviewRepository(session).comment_row(comment.id)


# -- observation framework -------------------------------------------------------------------------


def _require_framework_editor(principal: Principal) -> None:
    if not authz.can_edit_observation_framework(principal):
        raise Forbidden("Research leads and district administrators design the observation framework")


# The 409 answer when the name of a category or a rubric is taken.
_NAME_TAKEN: dict[type[ObservationCategory] | type[Rubric], str] = {
    ObservationCategory: "The category {} already exists",
    Rubric: "A rubric named {} already exists",
}


async def _claim_name(
    repository: ReviewRepository,
    kind: type[ObservationCategory] | type[Rubric],
    name: str | None,
    *,
    excluding: uuid.UUID | None = None,
) -> str:
    """409 now if another category or rubric (as `kind` says) has the name (None: the name is not being
    set); else that same answer, for _flush_unique_name to give should a concurrent request take it."""
    taken = _NAME_TAKEN[kind].format(name)
    if name is not None and await repository.name_taken(kind, name, excluding=excluding):
        raise Conflict(taken)
    return taken


async def _apply_framework_update(
    repository: ReviewRepository, item: ObservationCategory | Rubric, data: CategoryUpdate | RubricUpdate
) -> str:
    """Set on a category or rubric the fields the request sends: none may be null (every field has a
    value), and a new name must be free. Returns the answer should the name be taken meanwhile."""
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise InvalidReview(f"{name} cannot be empty", [name])
    taken = await _claim_name(repository, type(item), changes.get("name"), excluding=item.id)
    for name, value in changes.items():
        setattr(item, name, value)
    return taken


async def _flush_unique_name(session: AsyncSession, message: str) -> None:
    """Names are checked first for a clear answer, but a concurrent request may take the name between
    that check and our insert; the unique constraint then refuses ours, and the answer is the same 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


async def list_categories(session: AsyncSession, *, include_inactive: bool) -> list[ObservationCategory]:
    return await ReviewRepository(session).categories(include_inactive=include_inactive)


async def _category(repository: ReviewRepository, category_id: uuid.UUID) -> ObservationCategory:
    category = await repository.get_category(category_id)
    if category is None:
        raise NotFound("Observation category not found")
    return category


async def create_category(
    session: AsyncSession, principal: Principal, data: CategoryCreate
) -> ObservationCategory:
    _require_framework_editor(principal)
    repository = ReviewRepository(session)
    taken = await _claim_name(repository, ObservationCategory, data.name)
    category = ObservationCategory(
        id=uuid.uuid4(),
        name=data.name,
        description=data.description,
        position=await repository.next_category_position(),
        active=True,
    )
    repository.add(category)
    await _flush_unique_name(session, taken)
    return category


async def update_category(
    session: AsyncSession, principal: Principal, category_id: uuid.UUID, data: CategoryUpdate
) -> ObservationCategory:
    _require_framework_editor(principal)
    repository = ReviewRepository(session)
    category = await _category(repository, category_id)
    taken = await _apply_framework_update(repository, category, data)
    await _flush_unique_name(session, taken)
    return category


async def delete_category(session: AsyncSession, principal: Principal, category_id: uuid.UUID) -> None:
    """Comments filed under it keep their words and lose the category; deactivating keeps both."""
    _require_framework_editor(principal)
    repository = ReviewRepository(session)
    await repository.delete_category(await _category(repository, category_id))


# -- rubrics ---------------------------------------------------------------------------------------

RubricView = tuple[Rubric, list[RubricCriterion]]


async def create_rubric(session: AsyncSession, principal: Principal, data: RubricCreate) -> RubricView:
    _require_framework_editor(principal)
    repository = ReviewRepository(session)
    taken = await _claim_name(repository, Rubric, data.name)
    now = utcnow()
    rubric = Rubric(
        id=uuid.uuid4(),
        name=data.name,
        description=data.description,
        active=True,
        created_by_id=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    criteria = [
        RubricCriterion(
            id=uuid.uuid4(),
            rubric_id=rubric.id,
            position=position,
            name=criterion.name,
            description=criterion.description,
            min_score=criterion.min_score,
            max_score=criterion.max_score,
        )
        for position, criterion in enumerate(data.criteria)
    ]
    repository.add(rubric)
    await _flush_unique_name(session, taken)
    repository.add(*criteria)
    await session.flush()
    return rubric, criteria


async def list_rubrics(session: AsyncSession, *, include_inactive: bool) -> list[RubricView]:
    repository = ReviewRepository(session)
    rubrics = await repository.rubrics(include_inactive=include_inactive)
    criteria = await repository.criteria([rubric.id for rubric in rubrics])
    return [(rubric, criteria[rubric.id]) for rubric in rubrics]


async def _rubric(repository: ReviewRepository, rubric_id: uuid.UUID) -> Rubric:
    rubric = await repository.get_rubric(rubric_id)
    if rubric is None:
        raise NotFound("Rubric not found")
    return rubric


async def get_rubric(session: AsyncSession, rubric_id: uuid.UUID) -> RubricView:
    repository = ReviewRepository(session)
    rubric = await _rubric(repository, rubric_id)
    return rubric, (await repository.criteria([rubric.id]))[rubric.id]


async def update_rubric(
    session: AsyncSession, principal: Principal, rubric_id: uuid.UUID, data: RubricUpdate
) -> RubricView:
    _require_framework_editor(principal)
    repository = ReviewRepository(session)
    rubric = await _rubric(repository, rubric_id)
    taken = await _apply_framework_update(repository, rubric, data)
    rubric.updated_at = utcnow()
    await _flush_unique_name(session, taken)
    return rubric, (await repository.criteria([rubric.id]))[rubric.id]


# -- scores ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    resource_id: uuid.UUID
    version: int
    rubric_id: uuid.UUID
    reviewer_id: uuid.UUID
    # In the rubric's order.
    scores: list[tuple[uuid.UUID, int]]
    updated_at: datetime


def _check_scores(criteria: list[RubricCriterion], data: ScoresSubmit) -> dict[uuid.UUID, int]:
    by_id = {criterion.id: criterion for criterion in criteria}
    given: dict[uuid.UUID, int] = {}
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(data.scores):
        criterion = by_id.get(item.criterion_id)
        where: list[str | int] = ["body", "scores", index]
        if criterion is None:
            errors.append(
                {
                    "loc": [*where, "criterion_id"],
                    "msg": "not a criterion of this rubric",
                    "type": "value_error",
                }
            )
        elif item.criterion_id in given:
            errors.append(
                {
                    "loc": [*where, "criterion_id"],
                    "msg": f"{criterion.name} is scored twice",
                    "type": "value_error",
                }
            )
        elif not criterion.min_score <= item.score <= criterion.max_score:
            errors.append(
                {
                    "loc": [*where, "score"],
                    "msg": f"{criterion.name} is scored from {criterion.min_score} to {criterion.max_score}",
                    "type": "value_error",
                }
            )
        given.setdefault(item.criterion_id, item.score)
    for criterion in criteria:
        if criterion.id not in given:
            errors.append(
                {"loc": ["body", "scores"], "msg": f"{criterion.name} is not scored", "type": "missing"}
            )
    if errors:
        raise AppError(
            "The scores do not fit the rubric: every criterion once, within its range",
            422,
            code="invalid_payload",
            details=errors,
        )
    return {criterion.id: given[criterion.id] for criterion in criteria}


async def submit_scores(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, number: int, data: ScoresSubmit
) -> Submission:
    """A reviewer scores one round with one rubric; scoring again replaces their earlier scores."""
    resource = await load_resource(session, resource_id)
    authz.require(
        principal,
        resource,
        authz.can_score(principal, resource),
        "Colleagues who may review a lesson score it; its own teacher does not",
    )
    _require_recording(resource)
    version = await target_version(session, resource, number)
    repository = ReviewRepository(session)
    rubric = await repository.get_rubric(data.rubric_id)
    if rubric is None:
        raise InvalidReview("No such rubric", ["rubric_id"])
    if not rubric.active:
        raise InvalidReview(f"The rubric {rubric.name} is no longer in use", ["rubric_id"])
    criteria = (await repository.criteria([rubric.id]))[rubric.id]
    scores = _check_scores(criteria, data)
    await repository.lock_version(version.id)
    rows = await repository.replace_scores(
        resource_id=resource.id,
        version_id=version.id,
        reviewer_id=principal.user_id,
        scores=scores,
        criterion_ids=[criterion.id for criterion in criteria],
        now=utcnow(),
    )
    return Submission(
        resource_id=resource.id,
        version=version.number,
        rubric_id=rubric.id,
        reviewer_id=principal.user_id,
        scores=list(scores.items()),
        updated_at=max(row.updated_at for row in rows),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _change(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None:
        return None
    return round(current - previous, 2)


def _rubric_rounds(
    versions: list[ResourceVersion],
    rubric: Rubric,
    criteria: list[RubricCriterion],
    averages: dict[tuple[uuid.UUID, uuid.UUID], float],
    reviewers: dict[tuple[uuid.UUID, uuid.UUID], int],
) -> RubricRounds:
    """One rubric's rounds, from the averages by (round, criterion) and reviewers by (rubric, round)."""
    rounds: list[RoundScores] = []
    previous: tuple[int, dict[uuid.UUID, float | None], float | None] | None = None
    for version in versions:
        count = reviewers.get((rubric.id, version.id), 0)
        current = {criterion.id: averages.get((version.id, criterion.id)) for criterion in criteria}
        known = [value for value in current.values() if value is not None]
        overall = sum(known) if count and len(known) == len(criteria) else None
        compared = previous if count else None
        rounds.append(
            RoundScores(
                version=version.number,
                label=version.label,
                reviewer_count=count,
                overall_average=_rounded(overall),
                overall_change=_change(overall, compared[2]) if compared else None,
                compared_to=compared[0] if compared else None,
                criteria=[
                    CriterionAverage(
                        criterion_id=criterion.id,
                        name=criterion.name,
                        average=_rounded(current[criterion.id]),
                        change=_change(current[criterion.id], compared[1].get(criterion.id))
                        if compared
                        else None,
                    )
                    for criterion in criteria
                ],
            )
        )
        if count:
            previous = (version.number, current, overall)
    return RubricRounds(
        rubric_id=rubric.id,
        rubric_name=rubric.name,
        max_total=sum(criterion.max_score for criterion in criteria),
        criteria=[CriterionRead.model_validate(criterion) for criterion in criteria],
        rounds=rounds,
    )


async def resource_scores(
    session: AsyncSession, principal: Principal | None, resource_id: uuid.UUID, rubric_id: uuid.UUID | None
) -> ResourceScores:
    """Per round and rubric: how many reviewers, each criterion's average, and its change since the
    previous scored round — what the teacher looks at between rounds. A fixed number of queries, however
    many rubrics and rounds there are."""
    resource = await load_resource(session, resource_id)
    _require_review_reader(principal, resource)
    repository = ReviewRepository(session)
    if rubric_id is not None:
        rubrics = [await _rubric(repository, rubric_id)]
    else:
        rubrics = await repository.scored_rubrics(resource.id)
    rubric_ids = [rubric.id for rubric in rubrics]
    criteria = await repository.criteria(rubric_ids)
    versions = await repository.versions(resource.id)
    averages = {
        (aggregate.version_id, aggregate.criterion_id): aggregate.average
        for aggregate in await repository.criterion_averages(resource.id, rubric_ids)
    }
    reviewers = await repository.reviewer_counts(resource.id, rubric_ids)
    return ResourceScores(
        resource_id=resource.id,
        rubrics=[
            _rubric_rounds(versions, rubric, criteria[rubric.id], averages, reviewers) for rubric in rubrics
        ],
    )
