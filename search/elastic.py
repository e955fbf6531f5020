"""Elasticsearch 8 backend, official async client.

Mappings use server-core features only (whitespace analyzer, keyword, numeric and date fields): text
is segmented by search.text in Python, so no analysis plugin is needed and any hosted cluster works.
Pinyin (search.pinyin) is indexed as two more whitespace token fields, autocomplete (search.suggest)
as keyword fields matched with prefix queries. The live index sits behind an alias; a rebuild fills a
new versioned index and swaps the alias. The mapping records SCHEMA_VERSION in its _meta; an index of
an older schema gets the new fields added and its documents rewritten in place by ensure_ready().

Matching and ranking follow search.plan: the match is a bool query, the tier a dis_max of
constant_score clauses weighing tier * TIER_WEIGHT, added to the match's BM25. Grouped by parent:
`collapse` on parent_id, one more request for the page's parents' further matches, a `cardinality` of
parent_id for the total and inside each facet bucket, and OWN_DOCUMENT_WEIGHT for a parent's own
document.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterable, Iterator, Sequence
from typing import Any, cast

from anyio import to_thread
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch, NotFoundError, TransportError

from search.documents import (
    FACET_FIELDS,
    MORE_CANDIDATES,
    MORE_PER_HIT,
    OWN_DOCUMENT_KINDS,
    AccessFilter,
    FacetValue,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
    Suggestion,
    further_matches,
    worth_more,
)
from search.fuzzy import DEFAULT_FUZZY, FuzzyPinyin, fuzzy_field
from search.highlight import Highlighter
from search.index import SearchUnavailable
from search.pinyin import initials_field, pinyin_field
from search.plan import (
    EXEMPLARY_WEIGHTS,
    FEATURED_WEIGHT,
    OWN_DOCUMENT_WEIGHT,
    TIER_WEIGHT,
    TextPlan,
    Tier,
    plan_query,
)
from search.suggest import SUGGEST_KINDS, suggest_keys, suggest_prefixes
from search.text import chars_field, words_field

logger = logging.getLogger(__name__)

# Bumped whenever the mapping or what goes into the fields changes.
# 3: Traditional script folded to Simplified, fuzzy-pinyin title field.
# 4: latin accents folded (search.text.normalize), so every token of such text changed.
# 5: the showcase's fields (exemplary_level, exemplary_year, featured).
SCHEMA_VERSION = 5
_KEYWORD = {"type": "keyword"}
# Whole token strings compared for equality; longer ones (never a real title) are not indexed.
_EXACT = {"type": "keyword", "ignore_above": 8191}
_WHITESPACE_TEXT = {"type": "text", "analyzer": "whitespace", "norms": True}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"schema_version": SCHEMA_VERSION},
    "properties": {
        "id": _KEYWORD,
        "kind": _KEYWORD,
        "parent_id": _KEYWORD,
        **{field: _KEYWORD for field in FACET_FIELDS if field != "kind"},
        "owner_id": _KEYWORD,
        "visibility": _KEYWORD,
        "status": _KEYWORD,
        "page": {"type": "integer"},
        "start_s": {"type": "float"},
        "end_s": {"type": "float"},
        "created_at": {"type": "date"},
        "popularity": {"type": "integer"},
        "featured": {"type": "boolean"},
        "title_words": _WHITESPACE_TEXT,
        "body_words": _WHITESPACE_TEXT,
        "title_chars": _WHITESPACE_TEXT,
        "body_chars": _WHITESPACE_TEXT,
        "title_pinyin": _WHITESPACE_TEXT,
        "title_initials": _WHITESPACE_TEXT,
        "title_fuzzy": _WHITESPACE_TEXT,
        "title_exact": _EXACT,
        "title_pinyin_exact": _EXACT,
        "title_initials_exact": _EXACT,
        # Autocomplete keys, resources and posts only: the title's start, then every other key.
        "suggest_head": _KEYWORD,
        "suggest_keys": _KEYWORD,
        "suggest_length": {"type": "integer"},
        # The document as given, returned with hits; not searchable itself.
        "source": {"type": "object", "enabled": False},
    },
}
SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1", "refresh_interval": "1s"}


def index_settings(shards: int = 1, replicas: int | None = None) -> dict[str, Any]:
    """Settings of a new versioned index: `replicas` None keeps 0-1 replicas as nodes allow."""
    settings = SETTINGS | {"number_of_shards": shards}
    if replicas is not None:
        settings.pop("auto_expand_replicas")
        settings["number_of_replicas"] = replicas
    return settings


def to_es_document(document: SearchDocument, fuzzy: FuzzyPinyin = DEFAULT_FUZZY) -> dict[str, Any]:
    body: dict[str, Any] = {
        field: getattr(document, field)
        for field in (
            "id",
            "kind",
            "parent_id",
            *FACET_FIELDS,
            "owner_id",
            "visibility",
            "status",
            "page",
            "start_s",
            "end_s",
            "created_at",
            "popularity",
            "featured",
        )
        if field != "kind"
    }
    body["kind"] = document.kind.value
    body["created_at"] = document.created_at.isoformat()
    body["title_words"] = words_field(document.title)
    body["body_words"] = words_field(document.body)
    body["title_chars"] = chars_field(document.title)
    body["body_chars"] = chars_field(document.body)
    body["title_pinyin"] = pinyin_field(document.title)
    body["title_initials"] = initials_field(document.title)
    body["title_fuzzy"] = fuzzy_field(document.title, fuzzy)
    body["title_exact"] = body["title_chars"]
    body["title_pinyin_exact"] = body["title_pinyin"]
    body["title_initials_exact"] = body["title_initials"]
    if document.kind in SUGGEST_KINDS:
        keys = suggest_keys(document.title)
        body["suggest_head"] = keys.head
        body["suggest_keys"] = list(keys.others)
        body["suggest_length"] = keys.length
    body["source"] = document.model_dump(mode="json")
    return body


def _any(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def _all(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bool": {"must": clauses}}


def match_clause(plan: TextPlan) -> dict[str, Any]:
    """search.plan's match as a bool query; its BM25 ranks hits within a tier."""
    words = _all(
        [
            _any(
                [
                    clause
                    for alternative in group
                    for clause in (
                        {
                            "multi_match": {
                                "query": " ".join(alternative.words),
                                "fields": ["title_words^4", "body_words"],
                                "type": "cross_fields",
                                "operator": "and",
                            }
                        },
                        {
                            "multi_match": {
                                "query": alternative.chars,
                                "fields": ["title_chars^8", "body_chars^2"],
                                "type": "phrase",
                                # Title and body scores add up, as FTS5's bm25() adds its columns':
                                # a page whose text also has the phrase ranks above one with the
                                # title alone.
                                "tie_breaker": 1.0,
                            }
                        },
                    )
                ]
            )
            for group in plan.groups
        ]
    )
    boosts = {"title_pinyin": 4.0, "title_initials": 2.0}
    latin = [
        {"match_phrase": {field: {"query": phrase, "boost": boosts[field]}}}
        for field, phrase in plan.latin_phrases
    ]
    fuzzy = [{"match_phrase": {"title_fuzzy": {"query": phrase, "boost": 1.0}}} for phrase in plan.fuzzy]
    return _any([words, *latin, *fuzzy])


def tier_clause(plan: TextPlan) -> dict[str, Any]:
    """search.plan's Tier as a score: the highest tier that applies, weighing tier * TIER_WEIGHT."""
    conditions: list[tuple[Tier, dict[str, Any]]] = [
        (Tier.title_exact, {"term": {"title_exact": plan.chars}}),
        (Tier.title_phrase, {"match_phrase": {"title_chars": plan.chars}}),
        (
            Tier.title_words,
            _all(
                [
                    _any(
                        [
                            _any(
                                [
                                    {
                                        "match": {
                                            "title_words": {
                                                "query": " ".join(alternative.words),
                                                "operator": "and",
                                            }
                                        }
                                    },
                                    {"match_phrase": {"title_chars": alternative.chars}},
                                ]
                            )
                            for alternative in group
                        ]
                    )
                    for group in plan.groups
                ]
            ),
        ),
    ]
    if plan.latin_phrases:
        conditions.append(
            (
                Tier.pinyin_exact,
                _any([{"term": {f"{field}_exact": phrase}} for field, phrase in plan.latin_phrases]),
            )
        )
        conditions.append(
            (
                Tier.pinyin,
                _any([{"match_phrase": {field: phrase}} for field, phrase in plan.latin_phrases]),
            )
        )
    conditions.append((Tier.body_phrase, {"match_phrase": {"body_chars": plan.chars}}))
    if plan.fuzzy:
        conditions.append(
            (Tier.pinyin_fuzzy, _any([{"match_phrase": {"title_fuzzy": phrase}} for phrase in plan.fuzzy]))
        )
    return {
        "dis_max": {
            "queries": [
                {"constant_score": {"filter": condition, "boost": int(tier) * TIER_WEIGHT}}
                for tier, condition in conditions
            ],
            "tie_breaker": 0.0,
        }
    }


def own_document_clause() -> dict[str, Any]:
    """Under group_by_parent: a parent's own document outranks its pages and cues of the same tier."""
    kinds = [kind.value for kind in OWN_DOCUMENT_KINDS]
    return {"constant_score": {"filter": {"terms": {"kind": kinds}}, "boost": OWN_DOCUMENT_WEIGHT}}


def showcase_boost_clauses() -> list[dict[str, Any]]:
    """search.plan's boost of exemplary and featured documents, as should clauses adding their weight."""
    clauses: list[dict[str, Any]] = [
        {"constant_score": {"filter": {"term": {"exemplary_level": level}}, "boost": weight}}
        for level, weight in EXEMPLARY_WEIGHTS.items()
    ]
    clauses.append({"constant_score": {"filter": {"term": {"featured": True}}, "boost": FEATURED_WEIGHT}})
    return clauses


def filter_clauses(query: SearchQuery) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    for field, values in query.filters.items():
        if field not in FACET_FIELDS:
            raise ValueError(f"cannot filter on {field!r}")
        if values:
            clauses.append({"terms": {field: values}})
    if query.kinds:
        clauses.append({"terms": {"kind": [kind.value for kind in query.kinds]}})
    if query.own_documents_only:
        clauses.append({"terms": {"kind": [kind.value for kind in OWN_DOCUMENT_KINDS]}})
    access = query.access
    if not access.see_everything:
        published: list[dict[str, Any]] = [
            {
                "bool": {
                    "filter": [
                        {"term": {"visibility": "school"}},
                        {"term": {"school_id": access.school_id or ""}},
                    ]
                }
            }
        ]
        if access.published_visibilities:
            published.append({"terms": {"visibility": sorted(access.published_visibilities)}})
        visible: list[dict[str, Any]] = [
            {"term": {"owner_id": access.user_id or ""}},
            {
                "bool": {
                    "filter": [{"term": {"status": "published"}}],
                    "should": published,
                    "minimum_should_match": 1,
                }
            },
        ]
        if access.whole_district:
            visible.append({"bool": {"must_not": [{"term": {"visibility": "private"}}]}})
        elif access.whole_school and access.school_id:
            visible.append(
                {
                    "bool": {
                        "filter": [{"term": {"school_id": access.school_id}}],
                        "must_not": [{"term": {"visibility": "private"}}],
                    }
                }
            )
        clauses.append({"bool": {"should": visible, "minimum_should_match": 1}})
    return clauses


# Under group_by_parent: the aggregation counting distinct parents (total, and per facet bucket), and
# the one finding the page's parents' further matches (see _further_matches).
_PARENTS = "parents"
_MORE = "more"
# A facet counted under every filter but its own: the global aggregation's filter and terms inside it.
_SCOPE = "scope"
_VALUES = "values"
# Grouped totals and facet counts come from `cardinality`, which Elasticsearch estimates: near-exact
# below this threshold (its maximum; measured: 4,310 for 4,311 parents, 1,617 for 1,618), within a
# few percent above it. The embedded index counts exactly; Elasticsearch has no exact distinct count
# that scales (server core has no parent-join either), so grouped counts may differ by such a hair.
PARENT_COUNT_PRECISION = 40_000


def _parent_count() -> dict[str, Any]:
    return {"cardinality": {"field": "parent_id", "precision_threshold": PARENT_COUNT_PRECISION}}


# Bulk requests are cut to this size: Elasticsearch refuses bodies over http.max_content_length
# (100 MB by default), and a batch of long documents (a 300-page PDF per resource) can reach that.
MAX_BULK_BYTES = 8 * 2**20
# Stale documents found per search by the drain (a replaced file's pages, a removed subtitle's cues).
STALE_PAGE = 1000


def bulk_entry(action: dict[str, Any], source: dict[str, Any] | None = None) -> bytes:
    """One bulk operation as NDJSON: its action line and, for index operations, the document."""
    lines = [json.dumps(action, separators=(",", ":"))]
    if source is not None:
        lines.append(json.dumps(source, ensure_ascii=False, separators=(",", ":"), default=str))
    return ("\n".join(lines) + "\n").encode()


def bulk_chunks(entries: Sequence[bytes], limit: int) -> Iterator[bytes]:
    """Request bodies of at most `limit` bytes (an entry larger than that goes alone), in order."""
    chunk = bytearray()
    for entry in entries:
        if chunk and len(chunk) + len(entry) > limit:
            yield bytes(chunk)
            chunk = bytearray()
        chunk += entry
    if chunk:
        yield bytes(chunk)


def _facet_buckets(aggregation: dict[str, Any]) -> list[dict[str, Any]]:
    if _SCOPE in aggregation:
        aggregation = aggregation[_SCOPE][_VALUES]
    buckets: list[dict[str, Any]] = aggregation.get("buckets", [])
    return buckets


def _some_parent_has_further_matches(response: dict[str, Any]) -> bool:
    """False when every matching parent has exactly one matching document, so no hit has `more`.

    Below PARENT_COUNT_PRECISION the parent count is the number of distinct hashes of the parent ids
    (linear counting): a collision can only lower it. So a count equal to the documents' proves that
    no two documents share a parent; anything else (or a count above the threshold) may not.
    """
    documents = response["hits"]["total"]
    parents = int(response.get("aggregations", {}).get(_PARENTS, {}).get("value", -1))
    exact = documents["relation"] == "eq" and documents["value"] <= PARENT_COUNT_PRECISION
    return not (exact and parents == documents["value"])


def _hit(hit: dict[str, Any], highlighter: Highlighter) -> SearchHit:
    document = SearchDocument.model_validate(hit["_source"]["source"])
    return SearchHit(
        id=document.id,
        kind=document.kind,
        parent_id=document.parent_id,
        score=float(hit.get("_score") or 0.0),
        document=document,
        highlights=highlighter.highlights(document.title, document.body),
    )


def _more(found: SearchHit, inner: list[dict[str, Any]], highlighter: Highlighter) -> list[SearchHit]:
    """A collapsed hit's `more` from its parent's best matching documents (_further_matches): only
    those kept are validated and highlighted."""
    kept: list[SearchHit] = []
    for other in inner:
        if worth_more(found.id, other["_source"]["source"], lambda body: highlighter.body(body) is not None):
            kept.append(_hit(other, highlighter))
            if len(kept) == MORE_PER_HIT:
                break
    return further_matches(found, kept)


class ElasticsearchSearchIndex:
    name = "elasticsearch"

    def __init__(
        self,
        client: AsyncElasticsearch,
        prefix: str,
        fuzzy: FuzzyPinyin = DEFAULT_FUZZY,
        *,
        shards: int = 1,
        replicas: int | None = None,
    ) -> None:
        self.client = client
        # Titles' fuzzy pinyin is indexed folded by these pairs; other pairs rewrite the index.
        self.fuzzy = fuzzy
        self.index_settings = index_settings(shards, replicas)
        self.alias = f"{prefix}-search"
        self.building_alias = f"{prefix}-search-building"
        self._index_pattern = f"{prefix}-search-v*"

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise SearchUnavailable(f"elasticsearch unreachable: {exc}") from exc
        except TransportError as exc:
            raise SearchUnavailable(f"elasticsearch error: {exc}") from exc
        except ApiError as exc:
            if isinstance(exc, NotFoundError):
                raise
            # Queries are built here, never taken from users, so a rejected request is this code's
            # bug or the cluster's state (429, 5xx): either way the caller's change waits in the
            # outbox, and a search answers 503 rather than a bare 500.
            logger.warning("elasticsearch rejected a request: %s", exc)
            raise SearchUnavailable(f"elasticsearch rejected the request ({exc.meta.status})") from exc

    async def _next_version_name(self) -> str:
        existing = await self._call(
            self.client.indices.get(index=self._index_pattern, expand_wildcards="all")
        )
        versions = [int(name.rsplit("-v", 1)[1]) for name in existing if name.rsplit("-v", 1)[1].isdigit()]
        return f"{self.alias}-v{max(versions, default=0) + 1}"

    async def _create_index(self, name: str) -> None:
        mappings = {**MAPPINGS, "_meta": self._meta}
        await self._call(
            self.client.indices.create(index=name, settings=self.index_settings, mappings=mappings)
        )

    @property
    def _meta(self) -> dict[str, Any]:
        """The mapping's _meta: the schema, and the fuzzy pinyin pairs the index was built with."""
        return {**MAPPINGS["_meta"], "fuzzy_pinyin": self.fuzzy.signature}

    async def ensure_ready(self) -> None:
        # The word dictionary is not loaded here: an API process loads it with its first query or
        # write (33 MiB it need not hold while idle, issue 19); the worker with its first batch.
        if await self._call(self.client.indices.exists_alias(name=self.alias)):
            await self._upgrade()
            return
        name = await self._next_version_name()
        try:
            await self._create_index(name)
            await self._call(
                self.client.indices.update_aliases(
                    actions=[{"add": {"index": name, "alias": self.alias, "is_write_index": True}}]
                )
            )
        except SearchUnavailable:
            # Another replica won the race; it created the alias.
            if not await self._call(self.client.indices.exists_alias(name=self.alias)):
                raise
            await self._call(self.client.indices.delete(index=name, ignore_unavailable=True))
        await self._call(
            self.client.cluster.health(index=self.alias, wait_for_status="yellow", timeout="30s")
        )

    async def _upgrade(self) -> None:
        """Bring indices of an older schema up to date, in place and safely from several processes.

        New fields are added to the mapping (so writes of the new shape succeed at once), then every
        stored document is rewritten from its own source, unless it changed meanwhile (sequence
        number check), and finally the mapping's _meta records the new schema.
        """
        targets = await self._write_targets()
        mappings = await self._call(self.client.indices.get_mapping(index=",".join(targets)))
        for name, body in mappings.items():
            meta = body.get("mappings", {}).get("_meta") or {}
            if (
                int(meta.get("schema_version", 1)) >= SCHEMA_VERSION
                and meta.get("fuzzy_pinyin") == self.fuzzy.signature
            ):
                continue
            await self._call(self.client.indices.put_mapping(index=name, properties=MAPPINGS["properties"]))
            await self._rewrite_in_place(name)
            await self._call(self.client.indices.put_mapping(index=name, meta=self._meta))

    async def _rewrite_in_place(self, index: str) -> None:
        await self._call(self.client.indices.refresh(index=index))
        after: list[Any] | None = None
        while True:
            response = await self._call(
                self.client.search(
                    index=index,
                    query={"match_all": {}},
                    sort=[{"id": "asc"}],
                    size=500,
                    search_after=after,
                    seq_no_primary_term=True,
                    source_includes=["source"],
                )
            )
            hits = response["hits"]["hits"]
            if not hits:
                break

            def rewritten(hits: list[dict[str, Any]] = hits) -> list[bytes]:
                return [
                    bulk_entry(
                        {
                            "index": {
                                "_index": index,
                                "_id": hit["_id"],
                                "if_seq_no": hit["_seq_no"],
                                "if_primary_term": hit["_primary_term"],
                            }
                        },
                        to_es_document(SearchDocument.model_validate(hit["_source"]["source"]), self.fuzzy),
                    )
                    for hit in hits
                ]

            # A conflict means the document was rewritten meanwhile, already in the new shape.
            await self._bulk(await to_thread.run_sync(rewritten), tolerated=(404, 409))
            after = hits[-1]["sort"]
        await self._call(self.client.indices.refresh(index=index))

    async def ping(self) -> None:
        if not await self._call(self.client.indices.exists_alias(name=self.alias)):
            raise SearchUnavailable(f"index alias {self.alias} missing")

    async def _write_targets(self) -> list[str]:
        targets = [self.alias]
        if await self._call(self.client.indices.exists_alias(name=self.building_alias)):
            targets.append(self.building_alias)
        return targets

    async def _bulk(
        self,
        entries: Sequence[bytes],
        *,
        index: str | None = None,
        tolerated: tuple[int, ...] = (404,),
        refresh: str | None = None,
    ) -> None:
        chunks = list(bulk_chunks(entries, MAX_BULK_BYTES))
        if refresh == "wait_for" and len(chunks) > 1:
            # Each chunk waits for a refresh: sent one after another they would wait for one each.
            await asyncio.gather(*(self._bulk_chunk(chunk, index, tolerated, refresh) for chunk in chunks))
            return
        for chunk in chunks:
            await self._bulk_chunk(chunk, index, tolerated, refresh)

    async def _bulk_chunk(
        self, chunk: bytes, index: str | None, tolerated: tuple[int, ...], refresh: str | None
    ) -> None:
        # Pre-serialized NDJSON passes through the client's serializer as it is.
        response = await self._call(
            self.client.bulk(index=index, operations=cast(Any, chunk), refresh=cast(Any, refresh))
        )
        if response.get("errors"):
            failures = [
                item
                for item in response["items"]
                for action in item.values()
                if action.get("error") and action.get("status") not in tolerated
            ]
            if failures:
                raise SearchUnavailable(f"bulk write failed: {failures[:3]}")

    async def _index_entries(self, documents: Sequence[SearchDocument]) -> list[bytes]:
        """Analysed and serialized once, off the event loop (jieba is CPU-bound), for every target."""

        def build() -> list[bytes]:
            return [
                bulk_entry({"index": {"_id": document.id}}, to_es_document(document, self.fuzzy))
                for document in documents
            ]

        return await to_thread.run_sync(build)

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        entries = await self._index_entries(documents)
        for target in await self._write_targets():
            await self._bulk(entries, index=target)

    async def delete(self, ids: Sequence[str]) -> None:
        entries = [bulk_entry({"delete": {"_id": doc_id}}) for doc_id in ids]
        for target in await self._write_targets():
            await self._bulk(entries, index=target)

    async def delete_by_parent(self, parent_ids: Sequence[str], keep: Sequence[str] = ()) -> None:
        if not parent_ids:
            return
        for target in await self._write_targets():
            # Sees every write so far, whoever made it, at the cost of refreshes (new searchers).
            await self._call(self.client.indices.refresh(index=target))
            await self._delete_stale(target, parent_ids, keep, refresh="true")

    async def replace_parents(self, parent_ids: Sequence[str], documents: Sequence[SearchDocument]) -> None:
        """The drain's write, without forcing a refresh (issue 19: the old way forced two per upload,
        each a tiny segment to merge and a new searcher whose caches the next searches rebuild).

        Every write here waits for the scheduled refresh (`refresh=wait_for`; SETTINGS sets
        refresh_interval explicitly, so shards never go search-idle and skip it). So when this returns
        its writes are visible, and the search for stale documents sees every earlier write of these
        parents: they were made here too, by a drain that held the parent's lock until they were
        visible (services.indexing), or by a rebuild, whose index is refreshed before it goes live.
        """
        if not parent_ids:
            return
        entries = await self._index_entries(documents) if documents else []
        keep = [document.id for document in documents]
        for target in await self._write_targets():
            if entries:
                await self._bulk(entries, index=target, refresh="wait_for")
            if target == self.building_alias:
                # A rebuild in progress writes its batches without waiting: make them visible here.
                await self._call(self.client.indices.refresh(index=target))
            await self._delete_stale(target, parent_ids, keep, refresh="wait_for")

    async def _delete_stale(
        self, target: str, parent_ids: Sequence[str], keep: Sequence[str], *, refresh: str
    ) -> None:
        """Delete these parents' documents but `keep`, as far as search sees them now. Found by search
        and bulk-deleted: server-core Elasticsearch has no _delete_by_query."""
        query: dict[str, Any] = {"bool": {"filter": [{"terms": {"parent_id": list(parent_ids)}}]}}
        if keep:
            query["bool"]["must_not"] = [{"ids": {"values": list(keep)}}]
        while True:
            response = await self._call(
                self.client.search(index=target, query=query, size=STALE_PAGE, source=False)
            )
            hits = response["hits"]["hits"]
            if hits:
                # The deletes are visible before the next search (refresh), so it finds the rest.
                await self._bulk(
                    [bulk_entry({"delete": {"_index": hit["_index"], "_id": hit["_id"]}}) for hit in hits],
                    refresh=refresh,
                )
            if len(hits) < STALE_PAGE:
                return

    async def refresh(self) -> None:
        targets = await self._write_targets()
        await self._call(self.client.indices.refresh(index=",".join(targets)))

    async def count(self) -> int:
        response = await self._call(self.client.count(index=self.alias))
        return int(response["count"])

    async def search(self, query: SearchQuery) -> SearchResult:
        return await query.run(self._search, self.fuzzy)

    async def _search(self, query: SearchQuery) -> SearchResult:
        for field in query.facets:
            if field not in FACET_FIELDS:
                raise ValueError(f"cannot facet on {field!r}")
        plan = (
            plan_query(query.text, query.synonym_groups, fuzzy=self.fuzzy, homophones=query.homophones)
            if query.text.strip()
            else None
        )
        if query.text.strip() and plan is None:
            return SearchResult(total=0, hits=[], facets={field: [] for field in query.facets})
        bool_query: dict[str, Any] = {"filter": filter_clauses(query)}
        if plan is None:
            bool_query["must"] = [{"match_all": {}}]
        else:
            bool_query["must"] = [match_clause(plan)]
            if query.sort == "relevance":
                bool_query["should"] = [tier_clause(plan), *showcase_boost_clauses()]
                if query.group_by_parent:
                    bool_query["should"].append(own_document_clause())
        relevance = query.sort == "relevance" and plan is not None
        sort: list[Any] = {
            "relevance": ["_score", {"created_at": "desc"}] if relevance else [{"created_at": "desc"}],
            "newest": [{"created_at": "desc"}],
            "popular": [{"popularity": "desc"}, {"created_at": "desc"}],
        }[query.sort]
        sort.append({"id": "asc"})
        group = query.group_by_parent
        aggregations: dict[str, Any] = {}
        for field in query.facets:
            terms: dict[str, Any] = {"field": field, "size": 50}
            values: dict[str, Any]
            if group:
                # Buckets count parents, not documents: a cardinality of parent_id inside each.
                terms["order"] = [{_PARENTS: "desc"}, {"_key": "asc"}]
                values = {"terms": terms, "aggs": {_PARENTS: _parent_count()}}
            else:
                terms["order"] = [{"_count": "desc"}, {"_key": "asc"}]
                values = {"terms": terms}
            if query.filters_on(field):
                # Counted under every filter but the field's own: outside the main query (global),
                # with the query's match and its other filters repeated.
                scope = {
                    "bool": {
                        "must": bool_query["must"],
                        "filter": filter_clauses(query.without_filter_on(field)),
                    }
                }
                aggregations[field] = {
                    "global": {},
                    "aggs": {_SCOPE: {"filter": scope, "aggs": {_VALUES: values}}},
                }
            else:
                aggregations[field] = values
        collapse: dict[str, Any] | None = None
        if group:
            aggregations[_PARENTS] = _parent_count()
        if group and query.limit:
            # One hit per parent, its best document by `sort`. The parents' further matches come from
            # one more request (see _further_matches), not from the collapse's inner hits: Elasticsearch
            # expands those with a search per hit returned, 20 searches for a page of 20, which was
            # most of its CPU per search (bench/README.md, "Load").
            collapse = {"field": "parent_id"}
        try:
            response = await self._call(
                self.client.search(
                    index=self.alias,
                    query={"bool": bool_query},
                    sort=sort,
                    from_=query.offset,
                    size=query.limit,
                    # Collapsed, hits.total still counts documents (free beside the aggregations, which
                    # read every match); the parents are counted by _PARENTS.
                    track_total_hits=True,
                    track_scores=True,
                    source_includes=["source"],
                    collapse=collapse,
                    aggregations=aggregations or None,
                )
            )
            page = response["hits"]["hits"]
            further: dict[str, list[dict[str, Any]]] = {}
            if group and page and _some_parent_has_further_matches(response):
                parents = list(dict.fromkeys(hit["_source"]["source"]["parent_id"] for hit in page))
                further = await self._further_matches(bool_query, sort, parents)
        except NotFoundError as exc:
            raise SearchUnavailable(f"index alias {self.alias} missing") from exc
        hits = []
        highlighter = Highlighter(plan)
        for hit in page:
            found = _hit(hit, highlighter)
            if group:
                found.more = _more(found, further.get(found.parent_id, []), highlighter)
            hits.append(found)
        aggregated = response.get("aggregations", {})
        facets = {
            field: [
                FacetValue(
                    value=str(bucket["key"]),
                    count=int(bucket[_PARENTS]["value"] if group else bucket["doc_count"]),
                )
                for bucket in _facet_buckets(aggregated.get(field, {}))
            ]
            for field in query.facets
        }
        total = aggregated[_PARENTS]["value"] if group else response["hits"]["total"]["value"]
        return SearchResult(total=int(total), hits=hits, facets=facets)

    async def _further_matches(
        self, bool_query: dict[str, Any], sort: list[Any], parents: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Per parent of a grouped page, its 1 + MORE_CANDIDATES best matching documents by `sort`:
        what the collapse's inner hits were (that hit first, then the parent's next matches).

        The same query narrowed to the page's parents, with a bucket per parent holding its top hits
        sorted as the page is: filters do not score, so scores and order are the page's own. The
        scores are read from the sort values (`_score` is a sort key, last when `sort` lacks it: ids
        are unique, so the order stays); top_hits' track_scores would score each bucket's hits
        again in its fetch phase, which cost more than the rest of this request together.
        """
        narrowed = {**bool_query, "filter": [*bool_query["filter"], {"terms": {"parent_id": parents}}]}
        scored = sort if "_score" in sort else [*sort, "_score"]
        score_at = scored.index("_score")
        response = await self._call(
            self.client.search(
                index=self.alias,
                query={"bool": narrowed},
                size=0,
                track_total_hits=False,
                aggregations={
                    _MORE: {
                        # One shard holds at most len(parents) values here, so every bucket is exact.
                        "terms": {"field": "parent_id", "size": len(parents)},
                        "aggs": {
                            _MORE: {
                                "top_hits": {
                                    "size": 1 + MORE_CANDIDATES,
                                    "sort": scored,
                                    "_source": {"includes": ["source"]},
                                }
                            }
                        },
                    }
                },
            )
        )
        further: dict[str, list[dict[str, Any]]] = {}
        for bucket in response.get("aggregations", {}).get(_MORE, {}).get("buckets", []):
            hits = bucket[_MORE]["hits"]["hits"]
            for hit in hits:
                hit["_score"] = hit["sort"][score_at]
            further[str(bucket["key"])] = hits
        return further

    async def suggest(self, prefix: str, access: AccessFilter, *, limit: int = 10) -> list[Suggestion]:
        prefixes = suggest_prefixes(prefix)
        if prefixes is None or limit <= 0:
            return []
        others: list[dict[str, Any]] = [{"prefix": {"suggest_keys": prefixes.text}}]
        if prefixes.pinyin is not None:
            others.append({"prefix": {"suggest_keys": prefixes.pinyin}})
        # Scores are exactly 2 (the title starts with the prefix as typed) or 1 (any other key).
        ranked = {
            "dis_max": {
                "queries": [
                    {"constant_score": {"filter": {"prefix": {"suggest_head": prefixes.text}}, "boost": 2.0}},
                    {"constant_score": {"filter": _any(others), "boost": 1.0}},
                ],
                "tie_breaker": 0.0,
            }
        }
        filters = filter_clauses(SearchQuery(access=access, kinds=list(SUGGEST_KINDS)))
        try:
            response = await self._call(
                self.client.search(
                    index=self.alias,
                    query={"bool": {"must": [ranked], "filter": filters}},
                    sort=[
                        "_score",
                        {"popularity": "desc"},
                        {"suggest_length": "asc"},
                        {"created_at": "desc"},
                        {"id": "asc"},
                    ],
                    # One hit per title: suggest_head is the deduplication key.
                    collapse={"field": "suggest_head"},
                    size=limit,
                    track_scores=True,
                    source_includes=["source"],
                )
            )
        except NotFoundError as exc:
            raise SearchUnavailable(f"index alias {self.alias} missing") from exc
        suggestions = []
        for hit in response["hits"]["hits"]:
            document = SearchDocument.model_validate(hit["_source"]["source"])
            suggestions.append(
                Suggestion(text=document.title, parent_id=document.parent_id, kind=document.kind)
            )
        return suggestions

    async def rebuild(self, documents: AsyncIterable[Sequence[SearchDocument]]) -> int:
        # A rebuild left behind by a crashed run is discarded first.
        await self._drop_building()
        name = await self._next_version_name()
        await self._create_index(name)
        await self._call(
            self.client.indices.update_aliases(
                actions=[{"add": {"index": name, "alias": self.building_alias}}]
            )
        )
        written = 0
        try:
            async for batch in documents:
                await self._bulk(await self._index_entries(batch), index=name)
                written += len(batch)
            await self._call(self.client.indices.refresh(index=name))
        except BaseException:
            await self._drop_building()
            raise
        old = list((await self._call(self.client.indices.get_alias(name=self.alias))).keys())
        # One atomic alias update: readers see either the old index or the new one, never none.
        actions: list[dict[str, Any]] = [{"remove": {"index": index, "alias": self.alias}} for index in old]
        actions.append({"add": {"index": name, "alias": self.alias, "is_write_index": True}})
        actions.append({"remove": {"index": name, "alias": self.building_alias}})
        await self._call(self.client.indices.update_aliases(actions=actions))
        for index in old:
            await self._call(self.client.indices.delete(index=index, ignore_unavailable=True))
        return written

    async def _drop_building(self) -> None:
        try:
            building = await self._call(self.client.indices.get_alias(name=self.building_alias))
        except NotFoundError:
            return
        for index in building:
            await self._call(self.client.indices.delete(index=index, ignore_unavailable=True))

    async def drop_all(self) -> None:
        await self._call(
            self.client.indices.delete(
                index=self._index_pattern,
                ignore_unavailable=True,
                expand_wildcards="all",
                allow_no_indices=True,
            )
        )

    async def close(self) -> None:
        await self.client.close()
