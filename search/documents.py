"""What goes into the search index and what comes out: one document model for every kind of hit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from search.correct import did_you_mean
from search.fuzzy import DEFAULT_FUZZY, FuzzyPinyin
from search.pinyin import MIN_HOMOPHONE_SYLLABLES
from search.plan import TIER_WEIGHT, Tier
from search.text import CJK_CHAR
from search.understand import Understanding, understand


class DocKind(StrEnum):
    resource = "resource"  # a resource's metadata: title, description, tags
    file_page = "file_page"  # one page or slide of a document
    video_cue = "video_cue"  # one subtitle cue of a video
    screen_text = "screen_text"  # text on screen in a video (a slide, the blackboard), from its second
    post = "post"  # a research topic or reply


# The documents that are a parent themselves (a resource, a topic), not a page, cue or reply in one.
# Every parent has exactly one, carrying the same curriculum and access fields as its other documents.
OWN_DOCUMENT_KINDS = (DocKind.resource, DocKind.post)

# Keyword fields that can be filtered on and counted as facets.
FACET_FIELDS = (
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
    # 优秀课例: the level a resource was marked exemplary at (search.plan.EXEMPLARY_LEVELS), and the year.
    "exemplary_level",
    "exemplary_year",
)


class SearchDocument(BaseModel):
    id: str
    kind: DocKind
    # The resource (or topic) a hit belongs to, so hits inside one resource can be grouped.
    parent_id: str
    title: str
    body: str = ""
    stage: str | None = None
    grade: str | None = None
    subject: str | None = None
    edition: str | None = None
    volume: str | None = None
    unit: str | None = None
    resource_type: str | None = None
    tags: list[str] = Field(default_factory=list)
    school_id: str | None = None
    owner_id: str | None = None
    visibility: Literal["private", "school", "district", "public"] = "public"
    status: Literal["draft", "published"] = "published"
    # The file a page or cue comes from, so a hit can open that document or video.
    file_id: str | None = None
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    created_at: datetime
    popularity: int = 0
    # The showcase's marks (services/showcase), on every document of a resource so facets count it
    # alike: exemplary at a level (school, district, city) in a year, featured on the home page.
    # Under relevance, a matching query ranks them higher within their tier (search.plan.showcase_boost).
    exemplary_level: str | None = None
    exemplary_year: str | None = None
    featured: bool = False


class AccessFilter(BaseModel):
    """Who is asking. Both backends turn this into a query clause, so counts and facets obey it too."""

    see_everything: bool = False
    user_id: str | None = None
    school_id: str | None = None
    # A school admin sees every document of their school, drafts included; private stays with its owner.
    whole_school: bool = False
    # A district admin sees every document of the district, drafts included; private stays with its owner.
    whole_district: bool = False
    # Visibilities readable once published, beside "school" (which needs school_id to match).
    published_visibilities: frozenset[str] = frozenset({"public"})


SortOrder = Literal["relevance", "newest", "popular"]

# How deep results can be paged (offset + limit): Elasticsearch's index.max_result_window, and the
# same on the embedded index so both backends accept the same queries.
MAX_RESULT_WINDOW = 10_000

# A forgiving query finding fewer hits than this is retried with homophones and offered a correction.
FEW_HITS = 3

# Under group_by_parent, how many further documents of a parent a hit carries in SearchHit.more,
# and how many are read to find them (see `further_matches`).
MORE_PER_HIT = 3
MORE_CANDIDATES = 3 * MORE_PER_HIT


class SearchQuery(BaseModel):
    text: str = ""
    filters: dict[str, list[str]] = Field(default_factory=dict)
    kinds: list[DocKind] | None = None
    access: AccessFilter = Field(default_factory=AccessFilter)
    sort: SortOrder = "relevance"
    offset: int = 0
    limit: int = 20
    facets: list[str] = Field(default_factory=list)
    # Groups of interchangeable terms (search.synonyms): a query word matches any term of its group.
    # Applied at query time, so changing them needs no reindex.
    synonym_groups: list[list[str]] = Field(default_factory=list)
    # One hit per parent (a resource with its pages and cues, a topic with its posts) instead of one per
    # matching document: the parent's best document by `sort`, hits ordered as those best documents
    # are, the next MORE_PER_HIT matching documents of the parent in SearchHit.more. `total`,
    # `offset`/`limit` and facet counts are then over parents (a facet value counts the parents
    # having at least one matching document with that value).
    group_by_parent: bool = False
    # Match parents' own documents only (see `resolved`). Not a filter of the `kind` facet's own.
    own_documents_only: bool = False
    # Search that forgives (see `run`): curriculum positions in the text become filters, a Chinese
    # query finding little is retried by its pinyin, and a correction is suggested.
    forgiving: bool = False
    # Chinese text also matches titles by its pinyin (homophone typos); set by `run` when forgiving.
    homophones: bool = False

    @model_validator(mode="after")
    def _within_result_window(self) -> SearchQuery:
        if self.offset < 0 or self.limit < 0 or self.offset + self.limit > MAX_RESULT_WINDOW:
            raise ValueError(f"offset + limit must be within 0..{MAX_RESULT_WINDOW}")
        return self

    async def run(
        self,
        execute: Callable[[SearchQuery], Awaitable[SearchResult]],
        fuzzy: FuzzyPinyin = DEFAULT_FUZZY,
    ) -> SearchResult:
        """Run this query with a backend's `execute` (whose index folds pinyin by `fuzzy`).

        Forgiving, the curriculum positions of the text (search.understand) become filters first,
        on fields the query does not filter yet, and the result says what was understood. A query
        then finding fewer than FEW_HITS, none of them matching in its title (Tier.title_words or
        better), is retried with homophones if it has Chinese (its pinyin against titles'); and it
        gets a did-you-mean (search.correct).
        """
        if not self.forgiving or not self.text.strip():
            return await self._run(execute)
        understanding = understand(
            self.text, frozenset(field for field in FACET_FIELDS if self.filters_on(field))
        )
        query = self
        if understanding.parts:
            filters = dict(self.filters)
            for part in understanding.parts:
                filters[part.field] = [part.value]
            query = self.model_copy(update={"text": understanding.text, "filters": filters})
        result = await query._run(execute)
        if understanding.parts and not result.total:
            # Nothing declares that position (a scan's words, 第三单元练习题, are no metadata): the text
            # is then words to find as typed, and nothing is said to be understood.
            literal = await self._run(execute)
            if literal.total:
                query, result = self, literal
                understanding = Understanding(text=self.text, parts=())
        if query.text.strip() and result.total < FEW_HITS and not _good_hit(query, result):
            if len(CJK_CHAR.findall(query.text)) >= MIN_HOMOPHONE_SYLLABLES:
                retried = await query.model_copy(update={"homophones": True})._run(execute)
                if retried.total > result.total:
                    result = retried
                    result.homophones = True
            correction = did_you_mean(query.text, result.hits, fuzzy, query.synonym_groups)
            if correction is not None:
                # The whole query again, its curriculum positions first: what to search for instead.
                positions = dict.fromkeys(part.text for part in understanding.parts)
                result.did_you_mean = " ".join([*positions, correction])
        result.understood = [
            Understood(text=part.text, field=part.field, value=part.value) for part in understanding.parts
        ]
        return result

    async def _run(self, execute: Callable[[SearchQuery], Awaitable[SearchResult]]) -> SearchResult:
        """Run this query with a backend's `execute`, through `resolved`.

        When browsing was resolved to own documents, the `kind` facet is still counted on the grouped
        query (parents having a page, a cue …), in a second, count-only execution.
        """
        resolved = self.resolved()
        if resolved is self or "kind" not in self.facets:
            return await execute(resolved)
        result = await execute(
            resolved.model_copy(update={"facets": [f for f in self.facets if f != "kind"]})
        )
        kinds = await execute(self.model_copy(update={"facets": ["kind"], "offset": 0, "limit": 0}))
        result.facets = {field: (kinds if field == "kind" else result).facets[field] for field in self.facets}
        return result

    def resolved(self) -> SearchQuery:
        """The query a backend runs: grouped browsing without text becomes a plain query over the
        parents' own documents.

        Without text every document of a parent matches alike (a page or cue carries its parent's
        fields), so grouping would only pick each parent's own document after ranking them all: the
        same hits, totals and facet counts come from the own documents alone, far cheaper. `kind`
        is counted on the grouped query still (see `run`).
        """
        if self.group_by_parent and not self.text.strip() and not self.kinds:
            return self.model_copy(update={"group_by_parent": False, "own_documents_only": True})
        return self

    def filters_on(self, field: str) -> bool:
        """Whether the query narrows `field` (kinds count as the `kind` field's filter)."""
        return bool(self.kinds) if field == "kind" else bool(self.filters.get(field))

    def without_filter_on(self, field: str) -> SearchQuery:
        """The same query without its own filter on `field`: what that field's facet is counted under.

        Facets are multi-select: with subject=语文 the subject facet still counts 数学 and 英语 (what
        adding them as alternatives would give), while every other facet counts within 语文.
        """
        if field == "kind":
            return self.model_copy(update={"kinds": None})
        return self.model_copy(update={"filters": {k: v for k, v in self.filters.items() if k != field}})


def _good_hit(query: SearchQuery, result: SearchResult) -> bool:
    """Whether a hit has every query word in its title, read from its score (tier * TIER_WEIGHT +
    BM25, see search.plan); scores are tiered under relevance only."""
    good = Tier.title_words * TIER_WEIGHT
    return query.sort == "relevance" and any(hit.score >= good for hit in result.hits)


class SearchHit(BaseModel):
    id: str
    kind: DocKind
    parent_id: str
    score: float
    document: SearchDocument
    # "title" / "body" → HTML-escaped text with <em> around what matched; only fields that matched,
    # only when the query has text. The title comes whole, the body as a snippet around the match.
    highlights: dict[str, str] = Field(default_factory=dict)
    # Under group_by_parent: further matching documents of the same parent, best first (each with
    # its own highlights and an empty `more`). Always empty otherwise.
    more: list[SearchHit] = Field(default_factory=list)


class Suggestion(BaseModel):
    text: str  # the title to complete to
    parent_id: str
    kind: DocKind


class FacetValue(BaseModel):
    value: str
    count: int


class Understood(BaseModel):
    """A curriculum position read from a forgiving query's text, applied as a filter."""

    text: str  # as it stood in the query (七年级上册)
    field: str  # grade, volume, unit, edition or stage
    value: str  # the filter's value (7, 上册)


class SearchResult(BaseModel):
    # Matching documents, or matching parents under group_by_parent.
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    # Forgiving queries only: what was read from the text as filters, whether titles sounding like
    # the query were included (homophones), and a corrected query to offer ("你要找的是不是…").
    understood: list[Understood] = Field(default_factory=list)
    homophones: bool = False
    did_you_mean: str | None = None


def further_matches(hit: SearchHit, candidates: Iterable[SearchHit]) -> list[SearchHit]:
    """SearchHit.more: the parent's next matching documents, best first: its own document, and pages,
    cues and replies whose own text matched.

    A page or cue carries its resource's title, so a title query matches every one of them; listing
    those ("also in cue 1, cue 2 …") would say nothing the hit does not.
    """
    worth = [
        other
        for other in candidates
        if other.id != hit.id and (other.kind in OWN_DOCUMENT_KINDS or "body" in other.highlights)
    ]
    return worth[:MORE_PER_HIT]


_OWN_KIND_VALUES = frozenset(kind.value for kind in OWN_DOCUMENT_KINDS)


def worth_more(hit_id: str, source: Mapping[str, Any], body_matches: Callable[[str], bool]) -> bool:
    """Whether a further matching document, as stored (its JSON fields), goes into a hit's `more`:
    what `further_matches` keeps, decided before the document is validated and highlighted whole."""
    if source["id"] == hit_id:
        return False
    return source["kind"] in _OWN_KIND_VALUES or body_matches(source.get("body") or "")
