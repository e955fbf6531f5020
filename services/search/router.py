"""HTTP for search, autocomplete and the district's synonyms."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from search.documents import MAX_RESULT_WINDOW, DocKind
from services.deps import SearchIndexDep, SessionDep, read_only
from services.errors import AppError
from services.identity.deps import CurrentPrincipal, OptionalPrincipal
from services.search import service
from services.search.schemas import (
    SearchParams,
    SearchResponse,
    SuggestionRead,
    SynonymGroupCreate,
    SynonymGroupRead,
)

router = APIRouter(prefix="/api/v1/search", tags=["search"])


def _values(values: list[str] | None) -> list[str]:
    return [value[:100] for value in values or [] if value.strip()]


@router.get("", response_model=SearchResponse)
@read_only
async def search(
    principal: OptionalPrincipal,
    session: SessionDep,
    index: SearchIndexDep,
    params: Annotated[SearchParams, Query()],
) -> Response:
    """Resources, document pages and subtitle cues this user may open, with facets and highlights.

    Filters given several times are alternatives (subject=语文&subject=数学); different filters combine.
    By default one hit per resource: its best match among the requested kinds (with kind=file_page, a
    page), the resource's next matches in `more`.
    """
    if params.offset + params.limit > MAX_RESULT_WINDOW:
        raise AppError(
            f"offset + limit may be at most {MAX_RESULT_WINDOW}; narrow the search with filters instead",
            422,
            code="invalid_payload",
        )
    filters = {
        "stage": _values(params.stage),
        "grade": _values(params.grade),
        "subject": _values(params.subject),
        "edition": _values(params.edition),
        "volume": _values(params.volume),
        "unit": _values(params.unit),
        "resource_type": _values(params.resource_type),
        "school_id": [str(value) for value in params.school_id or []],
        "tags": _values(params.tags),
        "exemplary_level": [level.value for level in params.exemplary_level or []],
    }
    request = service.SearchRequest(
        text=params.q,
        filters=filters,
        kinds=params.kind,
        sort=params.sort,
        offset=params.offset,
        limit=params.limit,
        group_by_parent=params.group == "resource",
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
