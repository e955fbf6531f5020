"""HTTP for browsing by textbook, the editions a school uses and the district catalog."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.deps import SearchIndexDep, SessionDep
from services.errors import NotFound
from services.identity.deps import CurrentPrincipal, OptionalPrincipal
from services.textbooks import service
from services.textbooks.repository import TextbookRepository
from services.textbooks.schemas import CatalogImport, SchoolEditions, Tree, TreePath
from storage.models.identity import School

router = APIRouter(prefix="/api/v1", tags=["textbooks"])

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not allowed"},
    404: {"description": "No such school"},
    422: {"description": "Invalid path or catalog"},
}


@router.get("/textbooks", response_model=Tree, responses=ERRORS)
async def textbook_tree(
    session: SessionDep,
    index: SearchIndexDep,
    principal: OptionalPrincipal,
    stage: Annotated[str | None, Query(max_length=8)] = None,
    subject: Annotated[str | None, Query(max_length=32)] = None,
    edition: Annotated[str | None, Query(max_length=64)] = None,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    volume: Annotated[str | None, Query(max_length=16)] = None,
) -> Tree:
    """One step of 学段 → 学科 → 版本 → 册次 (grade + volume) → 单元 → 课: every level down to the path
    given, with counts of the resources the caller may open; at a book, its units and lessons with their
    resources (and the catalog's empty lessons). `home` says where the caller's walk opens."""
    path = TreePath(stage=stage, subject=subject, edition=edition, grade=grade, volume=volume)
    return Tree.model_validate(await service.tree(session, index, principal, path))


async def _school(session: SessionDep, school_id: uuid.UUID) -> School:
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound("School not found")
    return school


@router.get("/schools/{school_id}/editions", response_model=SchoolEditions, responses=ERRORS)
async def school_editions(
    school_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> SchoolEditions:
    await _school(session, school_id)
    return SchoolEditions(editions=await TextbookRepository(session).school_editions(school_id))


@router.put("/schools/{school_id}/editions", response_model=SchoolEditions, responses=ERRORS)
async def set_school_editions(
    school_id: uuid.UUID, data: SchoolEditions, session: SessionDep, principal: CurrentPrincipal
) -> SchoolEditions:
    """The edition the school uses per subject (a school setting): browsing opens there."""
    await _school(session, school_id)
    return SchoolEditions(
        editions=await service.set_school_editions(session, principal, school_id, data.editions)
    )


@router.post(
    "/textbooks/catalog",
    response_model=CatalogImport,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "CSV (UTF-8 or GBK) with the header subject,edition,grade,volume,unit,lesson, "
            "lessons in teaching order; the books in the file replace what the catalog had for them",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def import_catalog(request: Request, session: SessionDep, principal: CurrentPrincipal) -> CatalogImport:
    """District admins upload the catalog of units and lessons per edition and volume."""
    books, lessons = await service.import_catalog(session, principal, await request.body())
    return CatalogImport(books=books, lessons=lessons)
