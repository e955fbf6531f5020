"""HTTP for search, autocomplete and the district's synonyms."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from search.documents import MAX_RESULT_WINDOW, DocKind, SortOrder
from services.deps import SearchIndexDep, SessionDep, read_only
from services.errors import AppError
from services.identity.deps import CurrentPrincipal, OptionalPrincipal
from services.search import service
from services.search.schemas import SearchResponse, SuggestionRead, SynonymGroupCreate, SynonymGroupRead
from storage.models.showcase import ExemplaryLevel

router = APIRouter(prefix="/api/v1/search", tags=["search"])

FilterValues = Annotated[list[str] | None, Query(max_length=20)]


def _values(values: list[str] | None) -> list[str]:
    return [value[:100] for value in values or [] if value.strip()]


@router.get("", response_model=SearchResponse)
@read_only
async def search(
    principal: OptionalPrincipal,
    session: SessionDep,
    index: SearchIndexDep,
    q: Annotated[
        str, Query(max_length=200, description="Chinese, pinyin (shuhexique) or initials (shxq)")
    ] = "",
    stage: FilterValues = None,
    grade: FilterValues = None,
    subject: FilterValues = None,
    edition: FilterValues = None,
    volume: FilterValues = None,
    unit: FilterValues = None,
    resource_type: FilterValues = None,
    school_id: Annotated[list[uuid.UUID] | None, Query(max_length=20)] = None,
    tags: FilterValues = None,
    kind: Annotated[list[DocKind] | None, Query(max_length=4)] = None,
    exemplary_level: Annotated[list[ExemplaryLevel] | None, Query(max_length=3)] = None,
    sort: SortOrder = "relevance",
    offset: Annotated[int, Query(ge=0, le=MAX_RESULT_WINDOW)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    group: Annotated[
        Literal["resource", "none"],
        Query(
            description="resource: one hit per resource, its best match, with up to three further "
            "matches inside it (pages, subtitle cues) in `more`; total, paging and facet counts are "
            "then over resources. none: every matching document is a hit of its own."
        ),
    ] = "resource",
) -> Response:
    """Resources, document pages and subtitle cues this user may open, with facets and highlights.

    Filters given several times are alternatives (subject=语文&subject=数学); different filters combine.
    By default one hit per resource: its best match among the requested kinds (with kind=file_page, a
    page), the resource's next matches in `more`.
    """
    if offset + limit > MAX_RESULT_WINDOW:
        raise AppError(
            f"offset + limit may be at most {MAX_RESULT_WINDOW}; narrow the search with filters instead",
            422,
            code="invalid_payload",
        )
    filters = {
        "stage": _values(stage),
        "grade": _values(grade),
        "subject": _values(subject),
        "edition": _values(edition),
        "volume": _values(volume),
        "unit": _values(unit),
        "resource_type": _values(resource_type),
        "school_id": [str(value) for value in school_id or []],
        "tags": _values(tags),
        "exemplary_level": [level.value for level in exemplary_level or []],
    }
    request = service.SearchRequest(
        text=q,
        filters=filters,
        kinds=kind,
        sort=sort,
        offset=offset,
        limit=limit,
        group_by_parent=group == "resource",
    )
    found = await service.search(session, index, principal, request)
    # Serialized once, by pydantic's own JSON writer: returned as the model, FastAPI would validate the
    # whole response again against response_model first.
    return Response(content=found.model_dump_json(), media_type="application/json")


@router.get("/suggest", response_model=list[SuggestionRead])
@read_only
async def suggest(
    principal: OptionalPrincipal,
    session: SessionDep,
    index: SearchIndexDep,
    q: Annotated[str, Query(min_length=1, max_length=50)],
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> list[SuggestionRead]:
    """Titles completing what was typed, in Chinese, pinyin or initials."""
    suggestions = await service.suggest(session, index, principal, q, limit)
    return [
        SuggestionRead(
            text=item.text,
            kind=item.kind,
            resource_id=None if item.kind == DocKind.post else uuid.UUID(item.parent_id),
            topic_id=uuid.UUID(item.parent_id) if item.kind == DocKind.post else None,
        )
        for item in suggestions
    ]


@router.get("/synonyms", response_model=list[SynonymGroupRead])
@read_only
async def list_synonyms(_: CurrentPrincipal, session: SessionDep) -> list[SynonymGroupRead]:
    """Built-in groups and the district's own; a query word matches every term of its group."""
    return await service.list_synonyms(session)


@router.post("/synonyms", response_model=SynonymGroupRead, status_code=201)
async def add_synonyms(
    data: SynonymGroupCreate, principal: CurrentPrincipal, session: SessionDep
) -> SynonymGroupRead:
    """Add a group (district admins); it applies to the next search, no reindex needed."""
    group = await service.add_synonyms(session, principal, data.terms)
    return SynonymGroupRead(id=group.id, terms=group.terms, built_in=False)


@router.delete("/synonyms/{group_id}", status_code=204)
async def delete_synonyms(group_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    await service.delete_synonyms(session, principal, group_id)
    return Response(status_code=204)
