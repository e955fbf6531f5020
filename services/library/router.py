"""HTTP for my space: favorites, history and 继续学习."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.assignments import service as assignments
from services.assignments.router import assignment_reads
from services.deps import SessionDep, SettingsDep
from services.identity.deps import CurrentPrincipal
from services.library import service
from services.library.repository import LibraryRepository
from services.library.schemas import ContinueLearning, LibraryItem
from services.resources import service as resources
from services.schemas import Page

router = APIRouter(prefix="/api/v1/me", tags=["my space"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such resource, or not one the caller may open"}
}
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("/favorites", response_model=Page[LibraryItem])
async def favorites(
    session: SessionDep, principal: CurrentPrincipal, offset: Offset = 0, limit: Limit = 20
) -> Page[LibraryItem]:
    """收藏, newest first; only what the caller may still open."""
    items, total = await service.favorites(session, principal, offset, limit)
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.put("/favorites/{resource_id}", status_code=204, responses=ERRORS)
async def add_favorite(
    resource_id: uuid.UUID, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> Response:
    resource = await resources.readable_resource(session, settings, principal, resource_id, None)
    await service.add_favorite(session, principal, resource)
    return Response(status_code=204)


@router.delete("/favorites/{resource_id}", status_code=204)
async def remove_favorite(
    resource_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await service.remove_favorite(session, principal, resource_id)
    return Response(status_code=204)


@router.get("/history", response_model=Page[LibraryItem])
async def history(
    session: SessionDep, principal: CurrentPrincipal, offset: Offset = 0, limit: Limit = 20
) -> Page[LibraryItem]:
    """What the caller opened, most recent first (one entry per resource, with how often)."""
    items, total = await service.history(session, principal, offset, limit)
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.delete("/history", status_code=204)
async def clear_history(session: SessionDep, principal: CurrentPrincipal) -> Response:
    await LibraryRepository(session).clear_history(principal.user_id)
    return Response(status_code=204)


@router.get("/continue", response_model=ContinueLearning)
async def continue_learning(session: SessionDep, principal: CurrentPrincipal) -> ContinueLearning:
    """继续学习: the micro-lessons and lesson recordings opened lately, and (students) the tasks still to
    do or given back for redo."""
    lessons, _ = await service.history(session, principal, 0, 10, lessons_only=True)
    tasks = await assignment_reads(session, principal, await assignments.list_assignments(session, principal))
    open_tasks = [task for task in tasks if task.mine is not None and task.mine.state in ("due", "returned")]
    open_tasks.sort(key=lambda task: task.due_at)
    return ContinueLearning(lessons=lessons, tasks=open_tasks)
