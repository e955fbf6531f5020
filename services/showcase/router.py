"""HTTP for the showcase: exemplary marks (优秀课例) and featured resources."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.deps import SessionDep
from services.identity.deps import CurrentPrincipal, OptionalPrincipal
from services.schemas import Page
from services.showcase import service
from services.showcase.schemas import ExemplaryMark, ShowcaseItem, ShowcaseRead
from storage.models.showcase import ExemplaryLevel

router = APIRouter(prefix="/api/v1", tags=["showcase"])

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller may not give or remove this mark"},
    404: {"description": "No such resource, or not one the caller may open"},
    409: {"description": "The resource is not published to others, or not district-wide for 区级/市级"},
}


@router.get("/resources/{resource_id}/showcase", response_model=ShowcaseRead, responses=ERRORS)
async def get_showcase(
    resource_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal
) -> ShowcaseRead:
    """The resource's marks: exemplary level and year (with who and when), featured."""
    return await service.showcase_of(session, principal, resource_id)


@router.put("/resources/{resource_id}/exemplary", response_model=ShowcaseRead, responses=ERRORS)
async def mark_exemplary(
    resource_id: uuid.UUID, data: ExemplaryMark, session: SessionDep, principal: CurrentPrincipal
) -> ShowcaseRead:
    """Mark as 优秀课例 at a level (school 校级, district 区级, city 市级) and year. Research leads and
    district admins give every level; school admins 校级 to their school's resources. 区级 and 市级 need
    a resource shown to the district or the public (409 otherwise)."""
    return await service.mark_exemplary(session, principal, resource_id, data.level, data.year)


@router.delete("/resources/{resource_id}/exemplary", response_model=ShowcaseRead, responses=ERRORS)
async def unmark_exemplary(
    resource_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ShowcaseRead:
    return await service.unmark_exemplary(session, principal, resource_id)


@router.put("/resources/{resource_id}/featured", response_model=ShowcaseRead, responses=ERRORS)
async def feature(resource_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> ShowcaseRead:
    """Feature on the home page (research leads, district admins)."""
    return await service.set_featured(session, principal, resource_id, True)


@router.delete("/resources/{resource_id}/featured", response_model=ShowcaseRead, responses=ERRORS)
async def unfeature(resource_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> ShowcaseRead:
    return await service.set_featured(session, principal, resource_id, False)


@router.get("/showcase", response_model=Page[ShowcaseItem])
async def list_showcase(
    session: SessionDep,
    principal: OptionalPrincipal,
    featured: bool | None = None,
    level: ExemplaryLevel | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[ShowcaseItem]:
    """Featured (`featured=true`) or exemplary resources (by `level`, `year`) the caller may open."""
    rows, total = await service.listed(
        session, principal, featured=featured, level=level, year=year, offset=offset, limit=limit
    )
    return Page(
        items=[service.item(resource, mark) for resource, mark in rows],
        total=total,
        offset=offset,
        limit=limit,
    )
