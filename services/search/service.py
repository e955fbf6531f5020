"""Search use cases: permission-aware search with facets, autocomplete, and the district's synonyms.

The index applies the read rule inside the query, but the index may lag the database (the outbox is
drained a moment after each change, longer while the backend is away). So before a page of hits or
suggestions goes out, the resources and topics it names are read back from the database in one
query and checked again (exists, readable by this caller now, status): whatever fails is dropped and
logged. A stale index then costs recall for a moment, never a leak. A search skips that re-check
when the outbox was empty as it began (read in the same query as the synonyms): every change
committed before then had reached the index, so the index cannot be behind what the database allowed
at the search's start.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import DocKind, SearchDocument, SearchHit, SearchQuery, SortOrder, Suggestion
from search.index import SearchIndex, SearchUnavailable
from search.synonyms import default_synonym_groups, merge_groups, normalize_edition
from services import authz
from services.authz import Principal
from services.errors import NotFound, ServiceUnavailable
from services.observability import metrics
from services.resources import curriculum
from services.search.repository import FacetLabelRepository, ParentStateRepository, SynonymRepository
from services.search.schemas import SearchResponse, SynonymGroupRead
from storage.models.search import SynonymGroup

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class StaleHitCounter:
    """Pages re-checked and hits dropped by the re-check since this process started."""

    pages: int = 0
    dropped: int = 0


STALE_HITS = StaleHitCounter()

# Facets a search response counts; "kind" tells how many hits are resources, pages or subtitle cues
# (grouped by resource: how many resources match in their metadata, in a page, in a subtitle cue).
SEARCH_FACETS = (
    "stage",
    "grade",
    "subject",
    "edition",
    "volume",
    "unit",
    "resource_type",
    "school_id",
    "tags",
    "kind",
    # 优秀课例 by level (services/showcase).
    "exemplary_level",
)


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    kinds: list[DocKind] | None = None
    sort: SortOrder = "relevance"
    offset: int = 0
    limit: int = 20
    # One hit per resource, its other matches in `more`; totals, paging and facets count resources.
    group_by_parent: bool = True


def _unavailable(exc: SearchUnavailable) -> ServiceUnavailable:
    return ServiceUnavailable(f"Search is unavailable right now; try again shortly ({exc})")


def normalized_filters(filters: dict[str, list[str]]) -> dict[str, list[str]]:
    """Filter values spelled the way resources are stored.

    人民教育出版社 → 人教版, 道法 → 道德与法治, 上 → 上册: the names teachers write find what was stored.
    """
    result: dict[str, list[str]] = {}
    for name, values in filters.items():
        if name == "edition":
            values = [normalize_edition(value) for value in values]
        elif name == "subject":
            values = [curriculum.canonical_subject(value) for value in values]
        elif name == "volume":
            values = [curriculum.canonical_volume(value) for value in values]
        if values:
            result[name] = list(dict.fromkeys(values))
    return result


async def synonym_groups(session: AsyncSession) -> list[list[str]]:
    """The built-in groups merged with the district's, read on every search (so a change applies to the
    next search on every replica); the merge, the same for the same groups, is done once per process."""
    return with_built_in(await SynonymRepository(session).all_terms())


def with_built_in(district: list[list[str]]) -> list[list[str]]:
    return [list(group) for group in _merged_with_built_in(tuple(tuple(terms) for terms in district))]


@functools.lru_cache(maxsize=32)
def _merged_with_built_in(district: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(group) for group in merge_groups(default_synonym_groups(), district))


# School names by id, the school facet's labels, kept per process for SCHOOL_NAMES_TTL_S: a renamed
# school's label may show its old name that long (labels only: nothing is filtered or allowed by them).
SCHOOL_NAMES_TTL_S = 60.0
_SCHOOL_NAMES: dict[uuid.UUID, tuple[str, float]] = {}
_SCHOOL_NAMES_KEPT = 10_000


async def school_names(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    now = time.monotonic()
    missing = [
        school_id
        for school_id in ids
        if school_id not in _SCHOOL_NAMES or now - _SCHOOL_NAMES[school_id][1] > SCHOOL_NAMES_TTL_S
    ]
    if missing:
        if len(_SCHOOL_NAMES) + len(missing) > _SCHOOL_NAMES_KEPT:
            _SCHOOL_NAMES.clear()
        found = await FacetLabelRepository(session).school_names(missing)
        for school_id in missing:
            if school_id in found:
                _SCHOOL_NAMES[school_id] = (found[school_id], now)
            else:
                _SCHOOL_NAMES.pop(school_id, None)
    return {school_id: _SCHOOL_NAMES[school_id][0] for school_id in ids if school_id in _SCHOOL_NAMES}


def _location(document: SearchDocument) -> dict[str, Any]:
    # Plain dicts here and below, validated once as the whole SearchResponse: pydantic's validator
    # (compiled) builds the models faster than model_construct (Python) does field by field.
    content = (
        f"/api/v1/resources/{document.parent_id}/files/{document.file_id}/content"
        if document.file_id
        else None
    )
    if document.kind == DocKind.file_page:
        return {
            "where": "page",
            "file_id": document.file_id,
            "page": document.page,
            "open_url": f"{content}#page={document.page}" if content else None,
        }
    if document.kind in (DocKind.video_cue, DocKind.screen_text):
        return {
            "where": "cue" if document.kind == DocKind.video_cue else "screen",
            "file_id": document.file_id,
            "start_s": document.start_s,
            "end_s": document.end_s,
            "open_url": f"{content}#t={document.start_s:g}"
            if content and document.start_s is not None
            else None,
        }
    if document.kind == DocKind.post:
        post_id = _post_id(document)
        anchor = f"#post-{post_id}" if post_id else ""
        return {"where": "post", "open_url": f"/api/v1/topics/{document.parent_id}{anchor}"}
    return {"where": "resource"}


def _post_id(document: SearchDocument) -> uuid.UUID | None:
    """A reply's id: post documents are the topic itself (id = topic id) or `<topic>/post/<post>`."""
    _, separator, post = document.id.partition("/post/")
    return uuid.UUID(post) if separator else None


_TEXT_KINDS = (DocKind.file_page, DocKind.video_cue, DocKind.screen_text)


def _match(hit: SearchHit) -> dict[str, Any]:
    """A SearchMatchRead's fields; ids stay strings, parsed by the validation."""
    document = hit.document
    post = hit.kind == DocKind.post
    return {
        "id": hit.id,
        "kind": hit.kind,
        "resource_id": None if post else document.parent_id,
        "topic_id": document.parent_id if post else None,
        "post_id": _post_id(document) if post else None,
        "title": document.title,
        "resource_type": document.resource_type,
        "stage": document.stage,
        "grade": int(document.grade) if document.grade and document.grade.isdigit() else None,
        "subject": document.subject,
        "edition": document.edition,
        "volume": document.volume,
        "unit": document.unit,
        "tags": document.tags,
        "school_id": document.school_id or None,
        "created_at": document.created_at,
        "popularity": document.popularity,
        "exemplary_level": document.exemplary_level,
        "exemplary_year": int(document.exemplary_year) if document.exemplary_year else None,
        "featured": document.featured,
        "score": hit.score,
        "highlights": hit.highlights,
        "text": document.body if hit.kind in _TEXT_KINDS else None,
        "location": _location(document),
    }


def _hit(hit: SearchHit) -> dict[str, Any]:
    """A SearchHitRead's fields."""
    fields = _match(hit)
    fields["more"] = [_match(other) for other in hit.more]
    return fields


def _parent(kind: DocKind, parent_id: str) -> tuple[str, uuid.UUID] | None:
    try:
        return ("topic" if kind == DocKind.post else "resource", uuid.UUID(parent_id))
    except ValueError:
        return None


async def still_readable(
    session: AsyncSession,
    principal: Principal | None,
    items: Sequence[T],
    parent_of: Callable[[T], tuple[DocKind, str]],
    what: str,
) -> list[T]:
    """The items whose resource or topic the database says this caller may read now (one query)."""
    if not items:
        return []
    parents = [_parent(*parent_of(item)) for item in items]
    resource_ids = sorted({parent[1] for parent in parents if parent and parent[0] == "resource"})
    topic_ids = sorted({parent[1] for parent in parents if parent and parent[0] == "topic"})
    states = await ParentStateRepository(session).states(resource_ids, topic_ids)
    readable = {(state.kind, state.id) for state in states if authz.can_read(principal, state)}
    kept = [item for item, parent in zip(items, parents, strict=True) if parent in readable]
    STALE_HITS.pages += 1
    dropped = len(items) - len(kept)
    if dropped:
        STALE_HITS.dropped += dropped
        stale = sorted(
            {f"{parent[0]} {parent[1]}" for parent in parents if parent and parent not in readable}
        )
        logger.warning(
            "stale search index: %d %s dropped, their parents no longer readable here: %s",
            dropped,
            what,
            ", ".join(stale),
        )
    return kept


async def search(
    session: AsyncSession, index: SearchIndex, principal: Principal | None, request: SearchRequest
) -> SearchResponse:
    # Read before the index is asked: with nothing waiting in the outbox then, the index holds every
    # change committed before this search began, so its hits are what the database allows (as of then)
    # and the re-check below is skipped; otherwise hits are checked against the database.
    district_synonyms, pending = await SynonymRepository(session).terms_and_pending()
    query = SearchQuery(
        text=request.text,
        filters=normalized_filters(request.filters),
        kinds=request.kinds,
        access=authz.search_access(principal),
        sort=request.sort,
        offset=request.offset,
        limit=request.limit,
        facets=list(SEARCH_FACETS),
        synonym_groups=with_built_in(district_synonyms),
        group_by_parent=request.group_by_parent,
        forgiving=True,
    )
    try:
        with metrics.time_search(index, "search"):
            result = await index.search(query)
    except SearchUnavailable as exc:
        raise _unavailable(exc) from exc
    hits = result.hits
    if pending:
        hits = await still_readable(
            session, principal, hits, lambda hit: (hit.kind, hit.document.parent_id), "hits"
        )
    school_values = [value.value for value in result.facets.get("school_id", [])]
    school_ids = [uuid.UUID(value) for value in school_values]
    names = await school_names(session, school_ids)
    labels = {value: names.get(school_id) for value, school_id in zip(school_values, school_ids, strict=True)}
    facets = {
        name: [
            {
                "value": value.value,
                "count": value.count,
                "label": labels.get(value.value) if name == "school_id" else None,
            }
            for value in values
        ]
        for name, values in result.facets.items()
    }
    return SearchResponse.model_validate(
        {
            # Facets keep the index's counts until the drain catches up (a moment); the total drops
            # what this page dropped, so a page is never announced longer than it is.
            "total": max(0, result.total - (len(result.hits) - len(hits))),
            "offset": request.offset,
            "limit": request.limit,
            "hits": [_hit(hit) for hit in hits],
            "facets": facets,
            "understood": [part.model_dump() for part in result.understood],
            "homophones": result.homophones,
            "did_you_mean": result.did_you_mean,
        }
    )


async def suggest(
    session: AsyncSession, index: SearchIndex, principal: Principal | None, prefix: str, limit: int
) -> list[Suggestion]:
    try:
        with metrics.time_search(index, "suggest"):
            suggestions = await index.suggest(prefix, authz.search_access(principal), limit=limit)
    except SearchUnavailable as exc:
        raise _unavailable(exc) from exc
    return await still_readable(
        session, principal, suggestions, lambda item: (item.kind, item.parent_id), "suggestions"
    )


async def list_synonyms(session: AsyncSession) -> list[SynonymGroupRead]:
    built_in = [SynonymGroupRead(id=None, terms=group, built_in=True) for group in default_synonym_groups()]
    district = [
        SynonymGroupRead(id=group.id, terms=group.terms, built_in=False)
        for group in await SynonymRepository(session).all()
    ]
    return built_in + district


async def add_synonyms(session: AsyncSession, principal: Principal, terms: list[str]) -> SynonymGroup:
    authz.require_district_admin(principal)
    group = SynonymRepository(session).add(
        SynonymGroup(id=uuid.uuid4(), terms=list(dict.fromkeys(terms)), created_by_id=principal.user_id)
    )
    await session.flush()
    return group


async def delete_synonyms(session: AsyncSession, principal: Principal, group_id: uuid.UUID) -> None:
    authz.require_district_admin(principal)
    if not await SynonymRepository(session).delete(group_id):
        raise NotFound("Synonym group not found")
