"""HTTP for lesson review: timed comments on rounds, the observation framework, rubrics and scores."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services import markdown
from services.deps import SessionDep
from services.identity.deps import CurrentPrincipal
from services.research.review import service
from services.research.review.repository import CommentRow
from services.research.review.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    CommentCreate,
    CommentRead,
    CommentUpdate,
    CriterionRead,
    CriterionScore,
    ResourceScores,
    RubricCreate,
    RubricRead,
    RubricUpdate,
    ScoresRead,
    ScoresSubmit,
    Timeline,
)
from services.research.review.service import RubricView, Thread
from services.research.schemas import RevisionRead

router = APIRouter(prefix="/api/v1")
RoundNumber = Annotated[int | None, Query(ge=1, le=100_000, description="The round; the newest when omitted")]


def comment_read(row: CommentRow, replies: list[CommentRow] | None = None) -> CommentRead:
    comment = row.comment
    deleted = comment.deleted_at is not None
    return CommentRead(
        id=comment.id,
        resource_id=comment.resource_id,
        version=row.version,
        parent_id=comment.parent_id,
        author_id=comment.author_id,
        author_name=row.author_name,
        start_s=comment.start_s,
        end_s=comment.end_s,
        category_id=comment.category_id,
        category_name=row.category_name,
        body="" if deleted else comment.body,
        body_html="" if deleted else markdown.render(comment.body),
        resolved=comment.resolved_at is not None,
        resolved_at=comment.resolved_at,
        resolved_by_id=comment.resolved_by_id,
        edited_at=comment.edited_at,
        deleted=deleted,
        created_at=comment.created_at,
        replies=[comment_read(reply) for reply in replies or []],
    )


def _thread_read(thread: Thread) -> CommentRead:
    return comment_read(thread.row, thread.replies)


def rubric_read(view: RubricView) -> RubricRead:
    rubric, criteria = view
    return RubricRead(
        id=rubric.id,
        name=rubric.name,
        description=rubric.description,
        active=rubric.active,
        created_at=rubric.created_at,
        updated_at=rubric.updated_at,
        max_total=sum(criterion.max_score for criterion in criteria),
        criteria=[CriterionRead.model_validate(criterion) for criterion in criteria],
    )


# -- comments --------------------------------------------------------------------------------------


@router.post(
    "/resources/{resource_id}/comments", response_model=CommentRead, status_code=201, tags=["lesson review"]
)
async def create_comment(
    resource_id: uuid.UUID, data: CommentCreate, principal: CurrentPrincipal, session: SessionDep
) -> CommentRead:
    """Comment on a moment (start_s) or a stretch (start_s..end_s) of a round, or reply to a comment."""
    return comment_read(await service.create_comment(session, principal, resource_id, data))


@router.get("/resources/{resource_id}/comments", response_model=Timeline, tags=["lesson review"])
async def read_timeline(
    resource_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    version: RoundNumber = None,
) -> Timeline:
    """A round's comments by time, replies nested, and the earlier rounds' open comments carried over.

    For the lesson's teacher and colleagues who may read it (teachers, research leads, admins)."""
    view = await service.timeline(session, principal, resource_id, version)
    return Timeline(
        resource_id=view.resource.id,
        version=view.version.number,
        label=view.version.label,
        duration_s=view.duration_s,
        comments=[_thread_read(thread) for thread in view.comments],
        carried_over=[_thread_read(thread) for thread in view.carried_over],
    )


@router.patch("/comments/{comment_id}", response_model=CommentRead, tags=["lesson review"])
async def update_comment(
    comment_id: uuid.UUID, data: CommentUpdate, principal: CurrentPrincipal, session: SessionDep
) -> CommentRead:
    """Its author edits a comment; what it was before is kept in its history."""
    return comment_read(await service.update_comment(session, principal, comment_id, data))


@router.get("/comments/{comment_id}/history", response_model=list[RevisionRead], tags=["lesson review"])
async def comment_history(
    comment_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> list[RevisionRead]:
    """The comment before each edit, newest first: its body, and the times or category the edit changed."""
    revisions = await service.comment_history(session, principal, comment_id)
    return [RevisionRead.model_validate(revision) for revision in revisions]


@router.delete("/comments/{comment_id}", status_code=204, tags=["lesson review"])
async def delete_comment(comment_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    await service.delete_comment(session, principal, comment_id)
    return Response(status_code=204)


@router.post("/comments/{comment_id}/resolve", response_model=CommentRead, tags=["lesson review"])
async def resolve_comment(
    comment_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> CommentRead:
    """Mark a comment dealt with; open comments are carried over to the next round."""
    return comment_read(await service.set_resolved(session, principal, comment_id, resolved=True))


@router.post("/comments/{comment_id}/unresolve", response_model=CommentRead, tags=["lesson review"])
async def unresolve_comment(
    comment_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> CommentRead:
    return comment_read(await service.set_resolved(session, principal, comment_id, resolved=False))


# -- observation framework -------------------------------------------------------------------------


@router.get("/review/categories", response_model=list[CategoryRead], tags=["lesson review"])
async def list_categories(
    _: CurrentPrincipal, session: SessionDep, include_inactive: bool = False
) -> list[CategoryRead]:
    """The district's observation framework (教学目标, 师生互动 …), in its order."""
    categories = await service.list_categories(session, include_inactive=include_inactive)
    return [CategoryRead.model_validate(category) for category in categories]


@router.post("/review/categories", response_model=CategoryRead, status_code=201, tags=["lesson review"])
async def create_category(
    data: CategoryCreate, principal: CurrentPrincipal, session: SessionDep
) -> CategoryRead:
    return CategoryRead.model_validate(await service.create_category(session, principal, data))


@router.patch("/review/categories/{category_id}", response_model=CategoryRead, tags=["lesson review"])
async def update_category(
    category_id: uuid.UUID, data: CategoryUpdate, principal: CurrentPrincipal, session: SessionDep
) -> CategoryRead:
    """Rename, reorder, or (preferably to deleting) deactivate a category."""
    return CategoryRead.model_validate(await service.update_category(session, principal, category_id, data))


@router.delete("/review/categories/{category_id}", status_code=204, tags=["lesson review"])
async def delete_category(
    category_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Comments filed under it lose their category; deactivating keeps it on them instead."""
    await service.delete_category(session, principal, category_id)
    return Response(status_code=204)


# -- rubrics and scores ----------------------------------------------------------------------------


@router.post("/rubrics", response_model=RubricRead, status_code=201, tags=["lesson review"])
async def create_rubric(data: RubricCreate, principal: CurrentPrincipal, session: SessionDep) -> RubricRead:
    """An observation rubric (观察量表): 1 to 30 criteria, each scored from min_score to max_score."""
    return rubric_read(await service.create_rubric(session, principal, data))


@router.get("/rubrics", response_model=list[RubricRead], tags=["lesson review"])
async def list_rubrics(
    _: CurrentPrincipal, session: SessionDep, include_inactive: bool = False
) -> list[RubricRead]:
    return [
        rubric_read(view) for view in await service.list_rubrics(session, include_inactive=include_inactive)
    ]


@router.get("/rubrics/{rubric_id}", response_model=RubricRead, tags=["lesson review"])
async def read_rubric(rubric_id: uuid.UUID, _: CurrentPrincipal, session: SessionDep) -> RubricRead:
    return rubric_read(await service.get_rubric(session, rubric_id))


@router.patch("/rubrics/{rubric_id}", response_model=RubricRead, tags=["lesson review"])
async def update_rubric(
    rubric_id: uuid.UUID, data: RubricUpdate, principal: CurrentPrincipal, session: SessionDep
) -> RubricRead:
    """Rename, activate or deactivate; criteria stay as they are so scores remain comparable."""
    return rubric_read(await service.update_rubric(session, principal, rubric_id, data))


@router.put(
    "/resources/{resource_id}/versions/{number}/scores", response_model=ScoresRead, tags=["lesson review"]
)
async def submit_scores(
    resource_id: uuid.UUID,
    number: Annotated[int, Path(ge=1, le=100_000)],
    data: ScoresSubmit,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> ScoresRead:
    """Score a colleague's round with a rubric: every criterion once; sending again replaces them."""
    submission = await service.submit_scores(session, principal, resource_id, number, data)
    return ScoresRead(
        resource_id=submission.resource_id,
        version=submission.version,
        rubric_id=submission.rubric_id,
        reviewer_id=submission.reviewer_id,
        scores=[CriterionScore(criterion_id=key, score=value) for key, value in submission.scores],
        total=sum(value for _, value in submission.scores),
        updated_at=submission.updated_at,
    )


@router.get("/resources/{resource_id}/scores", response_model=ResourceScores, tags=["lesson review"])
async def read_scores(
    resource_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    rubric_id: uuid.UUID | None = None,
) -> ResourceScores:
    """Per round: reviewers, each criterion's average and its change since the previous scored round.

    Like the comment timeline, for the lesson's teacher and colleagues who may read it; not students."""
    return await service.resource_scores(session, principal, resource_id, rubric_id)
