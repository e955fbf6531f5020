"""What the search API accepts and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from search.documents import MAX_RESULT_WINDOW, DocKind, SortOrder
from storage.models.showcase import ExemplaryLevel

FilterValues = Annotated[list[str] | None, Field(max_length=20)]


class SearchParams(BaseModel):
    """GET /api/v1/search's query parameters, validated as one model: FastAPI otherwise inspects and
    validates each of the sixteen on its own, on every request. They are listed one by one in the
    OpenAPI document all the same, and a bad one answers the same 422 (location ["query", name])."""

    q: str = Field("", max_length=200, description="Chinese, pinyin (shuhexique) or initials (shxq)")
    stage: FilterValues = None
    grade: FilterValues = None
    subject: FilterValues = None
    edition: FilterValues = None
    volume: FilterValues = None
    unit: FilterValues = None
    resource_type: FilterValues = None
    school_id: Annotated[list[uuid.UUID] | None, Field(max_length=20)] = None
    tags: FilterValues = None
    kind: Annotated[list[DocKind] | None, Field(max_length=4)] = None
    exemplary_level: Annotated[list[ExemplaryLevel] | None, Field(max_length=3)] = None
    sort: SortOrder = "relevance"
    offset: Annotated[int, Field(ge=0, le=MAX_RESULT_WINDOW)] = 0
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    group: Annotated[
        Literal["resource", "none"],
        Field(
            description="resource: one hit per resource, its best match, with up to three further "
            "matches inside it (pages, subtitle cues) in `more`; total, paging and facet counts are "
            "then over resources. none: every matching document is a hit of its own."
        ),
    ] = "resource"


Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class FacetCount(BaseModel):
    value: str
    count: int
    # A readable name where the value is an id (schools).
    label: str | None = None


class MatchLocation(BaseModel):
    """Where inside the resource the hit is, so a client can open that page or jump to that second."""

    # "screen": text on screen in the video (location.start_s is the second it appears).
    where: Literal["resource", "page", "cue", "screen", "post"]
    file_id: uuid.UUID | None = None
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    # A link that opens the file at the hit: #page=N for documents, #t=S for videos (media fragments);
    # for a post, its topic (#post-<id> for a reply).
    open_url: str | None = None


class SearchMatchRead(BaseModel):
    """One matching document: a resource's metadata, a page of one of its documents, a subtitle cue."""

    id: str
    kind: DocKind
    # The resource the hit belongs to; for kind=post (a research topic or one of its replies) the
    # topic and, for a reply, the post instead.
    resource_id: uuid.UUID | None
    topic_id: uuid.UUID | None = None
    post_id: uuid.UUID | None = None
    title: str
    resource_type: str | None
    stage: str | None
    grade: int | None
    subject: str | None
    edition: str | None
    volume: str | None
    unit: str | None
    tags: list[str]
    school_id: uuid.UUID | None
    created_at: datetime
    popularity: int
    # 优秀课例 (school, district, city) and its year; featured on the home page (services/showcase).
    exemplary_level: str | None = None
    exemplary_year: int | None = None
    featured: bool = False
    score: float
    # HTML-escaped, matches in <em>: "title" whole, "body" a snippet around the match.
    highlights: dict[str, str]
    # The text that matched for page and cue hits (the cue's words, the page's snippet source).
    text: str | None
    location: MatchLocation


class SearchHitRead(SearchMatchRead):
    # Grouped by resource (the default): up to three further matches inside the same resource, best
    # first, e.g. the pages and subtitle cues that mention the query ("also on page 3, at 0:42").
    # Always empty with group=none.
    more: list[SearchMatchRead] = Field(default_factory=list)


class UnderstoodRead(BaseModel):
    """A curriculum position read from the query text and applied as a filter (七年级上册 → grade 7)."""

    text: str
    field: Literal["grade", "volume", "unit", "edition", "stage"]
    value: str


class SearchResponse(BaseModel):
    # Matching resources (group=resource) or matching documents (group=none).
    total: int
    offset: int
    limit: int
    hits: list[SearchHitRead]
    facets: dict[str, list[FacetCount]]
    # What the query's text was read as: curriculum positions turned into filters (the rest of the
    # text is what was searched for); searching again without one of them means leaving its text out.
    understood: list[UnderstoodRead] = Field(default_factory=list)
    # The query found little, so titles sounding like it (homophones, 同音字) were included.
    homophones: bool = False
    # A corrected query to offer (你要找的是不是…) when the query found little.
    did_you_mean: str | None = None


class SuggestionRead(BaseModel):
    text: str
    kind: DocKind
    # A resource's title, or (kind=post) a research topic's.
    resource_id: uuid.UUID | None
    topic_id: uuid.UUID | None = None


class SynonymGroupCreate(BaseModel):
    terms: Annotated[list[Term], Field(min_length=2, max_length=20)]


class SynonymGroupRead(BaseModel):
    id: uuid.UUID | None
    terms: list[str]
    built_in: bool
