"""Embedded search index: SQLite FTS5 with BM25, no server to install.

Versioned like the Elasticsearch backend: each generation is its own set of tables (documents, FTS,
autocomplete keys) and a meta row names the live one, so a rebuild fills a new generation and swaps
it in one transaction. Each generation also records the SCHEMA_VERSION it was built with; a live
generation from an older schema is rebuilt from its own stored documents by ensure_ready().

Matching and ranking follow search.plan: the match is one FTS5 expression, the tier a CASE over the
stored token columns, and the two are combined as tier * TIER_WEIGHT + BM25. Grouped by parent, a
parent's own document adds OWN_DOCUMENT_WEIGHT.

Totals, facets, filters and the read rule are counted on bitmaps (search.bitmaps). The text match
runs once, as (rowid, BM25) pairs. A page is then picked in numpy over the matched documents' sort
keys (created_at, popularity, kept beside the bitmaps; under relevance with text the score, its tier
read by rowid from the FTS table's stored columns): only the documents of the groups that can be on
the page are read from SQL, to break ties by id, and only the page's stored JSON is loaded.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import AsyncIterable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from anyio import to_thread
from pyroaring import BitMap

from search.bitmaps import (
    TEXT_MATCHES_KEPT,
    DocumentBitmaps,
    TextMatch,
    candidates,
    create_changes_table,
    log_changes,
    log_changes_where,
)
from search.documents import (
    FACET_FIELDS,
    MORE_CANDIDATES,
    MORE_PER_HIT,
    OWN_DOCUMENT_KINDS,
    AccessFilter,
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
from search.suggest import (
    HEAD_TIER,
    OTHER_TIER,
    SUGGEST_KINDS,
    suggest_keys,
    suggest_prefixes,
    title_key,
)
from search.text import chars_field, load_dictionary, words_field

T = TypeVar("T")
_KEYWORD_COLUMNS = tuple(field for field in FACET_FIELDS if field != "tags")
_OWN_KIND_VALUES = frozenset(kind.value for kind in OWN_DOCUMENT_KINDS)
# Bumped whenever a generation's tables change shape or what goes into them.
# 3: Traditional script folded to Simplified, fuzzy-pinyin title column.
# 4: latin accents folded (search.text.normalize), so every token of such text changed.
# 5: the showcase's columns (exemplary_level, exemplary_year, featured).
SCHEMA_VERSION = 5
_FTS_COLUMNS = (
    "title_words",
    "body_words",
    "title_chars",
    "body_chars",
    "title_pinyin",
    "title_initials",
    "title_fuzzy",
)
# bm25 weights per FTS column, in _FTS_COLUMNS order.
_BM25_WEIGHTS = "4.0, 1.0, 8.0, 2.0, 4.0, 2.0, 1.0"
# Under relevance, a match needing at least this many tiers reads first those of the documents
# matching in their titles, then only those that can reach the page (EmbeddedSearchIndex._ranked).
TIERS_READ_ALL = 4000
# Sorts after every string that starts with a given prefix.
_PREFIX_END = "\U0010ffff"


def _quote(tokens: str) -> str:
    """Space-separated tokens as one FTS5 phrase."""
    return '"' + tokens.replace('"', '""') + '"'


def _any(clauses: list[str]) -> str:
    return "(" + " OR ".join(f"({clause})" for clause in clauses) + ")"


def _all(clauses: list[str]) -> str:
    return "(" + " AND ".join(f"({clause})" for clause in clauses) + ")"


def _word_groups(plan: TextPlan, word_columns: str, char_columns: str) -> str:
    """Every group of the plan, each matched by any of its alternatives: its words in word_columns or
    its characters as one phrase in char_columns."""
    return _all(
        [
            _any(
                [
                    clause
                    for alternative in group
                    for clause in (
                        f"{{{word_columns}}} : " + _all([_quote(word) for word in alternative.words]),
                        f"{{{char_columns}}} : {_quote(alternative.chars)}",
                    )
                ]
            )
            for group in plan.groups
        ]
    )


def fts_match_expression(plan: TextPlan) -> str:
    """search.plan's match as one FTS5 expression."""
    words = _word_groups(plan, "title_words body_words", "title_chars body_chars")
    latin = [f"{{{field}}} : {_quote(phrase)}" for field, phrase in plan.latin_phrases]
    fuzzy = [f"{{title_fuzzy}} : {_quote(phrase)}" for phrase in plan.fuzzy]
    return _any([words, *latin, *fuzzy])


def title_tier_expression(plan: TextPlan) -> str | None:
    """An FTS5 expression every document of Tier.pinyin or above matches: tier_expression's conditions
    on the title columns, each a phrase (the stored columns are space-separated tokens, so a phrase
    inside one is an FTS5 phrase match). A document outside it is of Tier.body_phrase at most.
    None when the plan has no whole-query phrase (an empty title would then be its exact title)."""
    if not plan.chars:
        return None
    title_words = _word_groups(plan, "title_words", "title_chars")
    latin = [f"{{{field}}} : {_quote(phrase)}" for field, phrase in plan.latin_phrases]
    return _any([f"{{title_chars}} : {_quote(plan.chars)}", title_words, *latin])


def _contains(column: str, tokens: str, params: list[Any]) -> str:
    """The column's tokens contain these tokens in a row: a phrase match, in plain SQL."""
    params.append(f" {tokens} ")
    return f"instr(' ' || {column} || ' ', ?) > 0"


def tier_expression(plan: TextPlan, params: list[Any]) -> str:
    """search.plan's Tier of a row joined as f (the FTS table), as a CASE over its token columns.

    Appends the expression's parameters to params, in order.
    """
    cases: list[tuple[Tier, str]] = []
    params.append(plan.chars)
    cases.append((Tier.title_exact, "f.title_chars = ?"))
    cases.append((Tier.title_phrase, _contains("f.title_chars", plan.chars, params)))
    title_words = _all(
        [
            _any(
                [
                    _any(
                        [
                            _all([_contains("f.title_words", word, params) for word in alternative.words]),
                            _contains("f.title_chars", alternative.chars, params),
                        ]
                    )
                    for alternative in group
                ]
            )
            for group in plan.groups
        ]
    )
    cases.append((Tier.title_words, title_words))
    if plan.latin_phrases:
        exact = []
        for field, phrase in plan.latin_phrases:
            params.append(phrase)
            exact.append(f"f.{field} = ?")
        cases.append((Tier.pinyin_exact, _any(exact)))
        pinyin = [_contains(f"f.{field}", phrase, params) for field, phrase in plan.latin_phrases]
        cases.append((Tier.pinyin, _any(pinyin)))
    cases.append((Tier.body_phrase, _contains("f.body_chars", plan.chars, params)))
    if plan.fuzzy:
        cases.append((Tier.pinyin_fuzzy, _any([_contains("f.title_fuzzy", p, params) for p in plan.fuzzy])))
    whens = " ".join(f"WHEN {condition} THEN {int(tier)}" for tier, condition in cases)
    return f"CASE {whens} ELSE 0 END"


class EmbeddedSearchIndex:
    name = "embedded"

    def __init__(
        self, path: Path, fuzzy: FuzzyPinyin = DEFAULT_FUZZY, *, text_matches_kept: int = TEXT_MATCHES_KEPT
    ) -> None:
        self.path = path
        # Recent queries' text matches kept until the next write (search.bitmaps); 0 keeps none.
        self.text_matches_kept = text_matches_kept
        # Titles' fuzzy pinyin is indexed folded by these pairs; other pairs rewrite the index.
        self.fuzzy = fuzzy
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        # Totals and facets are counted on bitmaps of the live generation (search.bitmaps).
        self._bitmaps: DocumentBitmaps | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._connection = connection
        return self._connection

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return work(self._connect())

        return await to_thread.run_sync(locked)

    @staticmethod
    def _meta(connection: sqlite3.Connection, key: str) -> int | None:
        row = connection.execute("SELECT value FROM search_meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else None

    @staticmethod
    def _set_meta(connection: sqlite3.Connection, key: str, value: int | None) -> None:
        if value is None:
            connection.execute("DELETE FROM search_meta WHERE key = ?", (key,))
        else:
            connection.execute(
                "INSERT INTO search_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, str(value)),
            )

    @classmethod
    def _schema(cls, connection: sqlite3.Connection, generation: int) -> int:
        # Generations from before schemas were recorded are schema 1.
        return cls._meta(connection, f"schema_{generation}") or 1

    def _create_generation(self, connection: sqlite3.Connection, generation: int) -> None:
        cls = type(self)
        keyword_columns = ", ".join(f"{column} TEXT" for column in _KEYWORD_COLUMNS)
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS docs_{generation} ("
            "rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent_id TEXT NOT NULL, "
            f"{keyword_columns}, tags TEXT NOT NULL, owner_id TEXT, visibility TEXT NOT NULL, "
            "status TEXT NOT NULL, created_at REAL NOT NULL, popularity INTEGER NOT NULL, "
            "featured INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL)"
        )
        cls._create_indexes(connection, generation)
        connection.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS fts_{generation} USING fts5("
            f"{', '.join(_FTS_COLUMNS)}, tokenize = 'unicode61 remove_diacritics 0')"
        )
        # Autocomplete keys (search.suggest), matched by range on the key index.
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS suggest_{generation} ("
            "doc_rowid INTEGER NOT NULL, tier INTEGER NOT NULL, key TEXT NOT NULL, length INTEGER NOT NULL)"
        )
        connection.execute(
            f"CREATE INDEX IF NOT EXISTS suggest_{generation}_key ON suggest_{generation}(key, tier)"
        )
        connection.execute(
            f"CREATE INDEX IF NOT EXISTS suggest_{generation}_doc ON suggest_{generation}(doc_rowid)"
        )
        create_changes_table(connection, generation)
        cls._set_meta(connection, f"schema_{generation}", SCHEMA_VERSION)
        cls._set_meta(connection, f"fuzzy_{generation}", self.fuzzy.signature)

    @staticmethod
    def _create_indexes(connection: sqlite3.Connection, generation: int) -> None:
        """Indexes of a generation's document table; idempotent, so older generations gain new ones
        at start-up without a rebuild.

        One per filterable column, so a filter, and each facet counted under the other filters, reads
        only the rows it selects; and the sort orders, so browsing reads only the first page's rows.
        """
        table = f"docs_{generation}"
        columns: list[tuple[str, str]] = [("parent", "parent_id")]
        columns += [(column, column) for column in _KEYWORD_COLUMNS]
        columns += [("newest", "created_at"), ("popular", "popularity, created_at")]
        for name, indexed in columns:
            connection.execute(f"CREATE INDEX IF NOT EXISTS {table}_{name} ON {table}({indexed})")

    @classmethod
    def _drop_generation(cls, connection: sqlite3.Connection, generation: int) -> None:
        connection.execute(f"DROP TABLE IF EXISTS changes_{generation}")
        connection.execute(f"DROP TABLE IF EXISTS suggest_{generation}")
        connection.execute(f"DROP TABLE IF EXISTS fts_{generation}")
        connection.execute(f"DROP TABLE IF EXISTS docs_{generation}")
        cls._set_meta(connection, f"schema_{generation}", None)
        cls._set_meta(connection, f"fuzzy_{generation}", None)

    def _live(self, connection: sqlite3.Connection) -> int:
        generation = self._meta(connection, "live")
        if generation is None:
            raise RuntimeError("search index not initialised; call ensure_ready()")
        return generation

    def _write_targets(self, connection: sqlite3.Connection) -> list[int]:
        targets = [self._live(connection)]
        building = self._meta(connection, "building")
        if building is not None:
            targets.append(building)
        return targets

    # -- interface --------------------------------------------------------------------------------

    def _needs_work(self, connection: sqlite3.Connection) -> bool:
        live = self._meta(connection, "live")
        return live is None or self._outdated(connection, live)

    def _outdated(self, connection: sqlite3.Connection, generation: int) -> bool:
        """Built with an older schema, or with other fuzzy pinyin pairs than this index's."""
        return (
            self._schema(connection, generation) < SCHEMA_VERSION
            or self._meta(connection, f"fuzzy_{generation}") != self.fuzzy.signature
        )

    def _upgrade(self, connection: sqlite3.Connection, old: int) -> None:
        """Rebuild a live generation of an older schema from the documents it stores, then swap."""
        building = self._meta(connection, "building")
        if building is not None:
            # A rebuild of the old schema was under way; it is superseded.
            self._set_meta(connection, "building", None)
            self._drop_generation(connection, building)
        generation = max(old, building or 0) + 1
        self._create_generation(connection, generation)
        cursor = connection.execute(f"SELECT source FROM docs_{old} ORDER BY rowid")
        while rows := cursor.fetchmany(500):
            documents = [SearchDocument.model_validate_json(row[0]) for row in rows]
            self._upsert_into(connection, generation, documents)
        self._set_meta(connection, "live", generation)
        self._drop_generation(connection, old)

    async def ensure_ready(self) -> None:
        """Create the first generation, or bring a live one of an older schema up to date.

        The upgrade runs in one write transaction: other writers wait (then retry from the outbox),
        readers keep reading the old generation until it commits.
        """
        await load_dictionary()

        def create(connection: sqlite3.Connection) -> None:
            if not self._needs_work(connection):

                def add_missing_indexes() -> None:
                    for generation in self._write_targets(connection):
                        self._create_indexes(connection, generation)
                        create_changes_table(connection, generation)

                self._in_transaction(connection, add_missing_indexes)
                return
            connection.execute("BEGIN IMMEDIATE")
            try:
                live = self._meta(connection, "live")
                if live is None:
                    self._create_generation(connection, 1)
                    self._set_meta(connection, "live", 1)
                elif self._outdated(connection, live):
                    self._upgrade(connection, live)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

        await self._run(create)

    async def ping(self) -> None:
        await self._run(lambda connection: self._live(connection))

    def _upsert_into(
        self, connection: sqlite3.Connection, generation: int, documents: Sequence[SearchDocument]
    ) -> None:
        columns = (
            "id",
            "parent_id",
            *_KEYWORD_COLUMNS,
            "tags",
            "owner_id",
            "visibility",
            "status",
            "created_at",
            "popularity",
            "featured",
            "source",
        )
        placeholders = ", ".join("?" for _ in columns)
        # Readers' bitmaps follow the live generation's writes; a new one is loaded whole when swapped in.
        changed: list[int] | None = [] if generation == self._meta(connection, "live") else None
        for document in documents:
            old = connection.execute(
                f"SELECT rowid FROM docs_{generation} WHERE id = ?", (document.id,)
            ).fetchone()
            if old:
                if changed is not None:
                    changed.append(old[0])
                connection.execute(f"DELETE FROM suggest_{generation} WHERE doc_rowid = ?", (old[0],))
                connection.execute(f"DELETE FROM fts_{generation} WHERE rowid = ?", (old[0],))
                connection.execute(f"DELETE FROM docs_{generation} WHERE rowid = ?", (old[0],))
            values = [
                document.id,
                document.parent_id,
                *(
                    str(getattr(document, column)) if getattr(document, column) is not None else None
                    for column in _KEYWORD_COLUMNS
                ),
                json.dumps(document.tags, ensure_ascii=False),
                document.owner_id,
                document.visibility,
                document.status,
                document.created_at.timestamp(),
                document.popularity,
                int(document.featured),
                document.model_dump_json(),
            ]
            cursor = connection.execute(
                f"INSERT INTO docs_{generation} ({', '.join(columns)}) VALUES ({placeholders})", values
            )
            rowid = cursor.lastrowid
            if changed is not None and rowid is not None:
                changed.append(rowid)
            connection.execute(
                f"INSERT INTO fts_{generation} (rowid, {', '.join(_FTS_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' for _ in _FTS_COLUMNS)})",
                (
                    rowid,
                    words_field(document.title),
                    words_field(document.body),
                    chars_field(document.title),
                    chars_field(document.body),
                    pinyin_field(document.title),
                    initials_field(document.title),
                    fuzzy_field(document.title, self.fuzzy),
                ),
            )
            if document.kind in SUGGEST_KINDS:
                keys = suggest_keys(document.title)
                connection.executemany(
                    f"INSERT INTO suggest_{generation} (doc_rowid, tier, key, length) VALUES (?, ?, ?, ?)",
                    [
                        (rowid, tier, key, keys.length)
                        for tier, key in [(HEAD_TIER, keys.head), *((OTHER_TIER, key) for key in keys.others)]
                        if key
                    ],
                )
        if changed:
            log_changes(connection, generation, changed)

    @staticmethod
    def _in_snapshot(connection: sqlite3.Connection, read: Callable[[sqlite3.Connection], T]) -> T:
        """read() in one read transaction: every statement, and the bitmaps, see one snapshot."""
        connection.execute("BEGIN")
        try:
            return read(connection)
        finally:
            connection.execute("COMMIT")

    def _synced_bitmaps(self, connection: sqlite3.Connection, generation: int) -> DocumentBitmaps:
        if self._bitmaps is None:
            self._bitmaps = DocumentBitmaps(self.text_matches_kept)
        try:
            self._bitmaps.sync(connection, generation)
        except BaseException:
            # Half applied: loaded again by the next query.
            self._bitmaps = None
            raise
        return self._bitmaps

    def _in_transaction(self, connection: sqlite3.Connection, work: Callable[[], None]) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            work()
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return

        def write(connection: sqlite3.Connection) -> None:
            def work() -> None:
                for generation in self._write_targets(connection):
                    self._upsert_into(connection, generation, documents)

            self._in_transaction(connection, work)

        await self._run(write)

    async def _delete_where(self, column: str, values: Sequence[str], keep: Sequence[str] = ()) -> None:
        if not values:
            return

        def write(connection: sqlite3.Connection) -> None:
            def work() -> None:
                marks = ", ".join("?" for _ in values)
                # The ids kept travel as one JSON array: a parent may have more than SQLite's limit
                # of bound parameters.
                where = f"{column} IN ({marks}) AND id NOT IN (SELECT value FROM json_each(?))"
                arguments = [*values, json.dumps(list(keep))]
                live = self._live(connection)
                for generation in self._write_targets(connection):
                    if generation == live:
                        log_changes_where(connection, generation, where, arguments)
                    connection.execute(
                        f"DELETE FROM suggest_{generation} WHERE doc_rowid IN "
                        f"(SELECT rowid FROM docs_{generation} WHERE {where})",
                        arguments,
                    )
                    connection.execute(
                        f"DELETE FROM fts_{generation} WHERE rowid IN "
                        f"(SELECT rowid FROM docs_{generation} WHERE {where})",
                        arguments,
                    )
                    connection.execute(f"DELETE FROM docs_{generation} WHERE {where}", arguments)

            self._in_transaction(connection, work)

        await self._run(write)

    async def delete(self, ids: Sequence[str]) -> None:
        await self._delete_where("id", ids)

    async def delete_by_parent(self, parent_ids: Sequence[str], keep: Sequence[str] = ()) -> None:
        await self._delete_where("parent_id", parent_ids, keep)

    async def replace_parents(self, parent_ids: Sequence[str], documents: Sequence[SearchDocument]) -> None:
        # Each write is a committed transaction, visible at once: written first, then the rest deleted.
        await self.upsert(documents)
        await self.delete_by_parent(parent_ids, keep=[document.id for document in documents])

    async def refresh(self) -> None:
        # Writes are committed synchronously; nothing to wait for.
        return None

    async def count(self) -> int:
        def read(connection: sqlite3.Connection) -> int:
            return int(
                connection.execute(f"SELECT count(*) FROM docs_{self._live(connection)}").fetchone()[0]
            )

        return await self._run(read)

    @staticmethod
    def _where(query: SearchQuery) -> tuple[list[str], list[Any]]:
        """The query's filters and access rule as SQL over `d`, for the suggestions' query.

        The unary + keeps SQLite from reading rows by a column's index: the suggestion keys are the
        selective way in, and starting from, say, every resource of one kind instead is far slower.
        """
        clauses: list[str] = []
        params: list[Any] = []
        column = "+d."
        for field, values in query.filters.items():
            if not values:
                continue
            marks = ", ".join("?" for _ in values)
            if field == "tags":
                clauses.append(f"EXISTS (SELECT 1 FROM json_each(d.tags) WHERE json_each.value IN ({marks}))")
            elif field in _KEYWORD_COLUMNS:
                clauses.append(f"{column}{field} IN ({marks})")
            else:
                raise ValueError(f"cannot filter on {field!r}")
            params.extend(values)
        if query.kinds:
            clauses.append(f"{column}kind IN ({', '.join('?' for _ in query.kinds)})")
            params.extend(kind.value for kind in query.kinds)
        if query.own_documents_only:
            clauses.append(f"{column}kind IN ({', '.join('?' for _ in OWN_DOCUMENT_KINDS)})")
            params.extend(kind.value for kind in OWN_DOCUMENT_KINDS)
        access = query.access
        if not access.see_everything:
            visible = ["d.owner_id = ?"]
            params.append(access.user_id or "")
            if access.whole_district:
                visible.append("d.visibility != 'private'")
            elif access.whole_school and access.school_id:
                visible.append("d.school_id = ? AND d.visibility != 'private'")
                params.append(access.school_id)
            published = ["d.visibility = 'school' AND d.school_id = ?"]
            params.append(access.school_id or "")
            if access.published_visibilities:
                published.append(f"d.visibility IN ({', '.join('?' for _ in access.published_visibilities)})")
                params.extend(sorted(access.published_visibilities))
            visible.append("d.status = 'published' AND (" + " OR ".join(f"({p})" for p in published) + ")")
            clauses.append("(" + " OR ".join(f"({clause})" for clause in visible) + ")")
        return clauses, params

    @staticmethod
    def _text_match(
        connection: sqlite3.Connection, generation: int, plan: TextPlan, bitmaps: DocumentBitmaps
    ) -> TextMatch:
        """The rowids the text matches, ascending, and each one's BM25: kept from an earlier query at
        this state of the index, or matched now (and kept)."""
        import numpy

        expression = fts_match_expression(plan)
        tier_params: list[Any] = []
        # The tiers are kept with the match, so the key holds what they are computed from too.
        key = json.dumps([expression, tier_expression(plan, tier_params), tier_params], ensure_ascii=False)
        kept = bitmaps.text_match(key)
        if kept is not None:
            return kept
        found = connection.execute(
            f"SELECT rowid, bm25(fts_{generation}, {_BM25_WEIGHTS}) FROM fts_{generation} "
            f"WHERE fts_{generation} MATCH ?",
            (expression,),
        ).fetchall()
        rowids = numpy.fromiter((row[0] for row in found), dtype=numpy.int64, count=len(found))
        bm25 = numpy.fromiter((row[1] for row in found), dtype=numpy.float64, count=len(found))
        if len(rowids) > 1 and not bool(numpy.all(rowids[1:] > rowids[:-1])):
            order = numpy.argsort(rowids, kind="stable")
            rowids, bm25 = rowids[order], bm25[order]
        return bitmaps.keep_text_match(key, rowids, bm25)

    @classmethod
    def _match_tiers(
        cls, connection: sqlite3.Connection, generation: int, plan: TextPlan, match: TextMatch, rowids: Any
    ) -> Any:
        """search.plan's Tier of each of these matched rowids (ascending): those not read yet for
        this match are read now and kept with it."""
        import numpy

        positions = numpy.searchsorted(match.rowids, rowids)
        known = match.tiers[positions]
        missing = known < 0
        if bool(missing.any()):
            match.tiers[positions[missing]] = cls._tiers(connection, generation, plan, rowids[missing])
        return match.tiers[positions].astype(numpy.int64)

    @staticmethod
    def _tiers(connection: sqlite3.Connection, generation: int, plan: TextPlan, rowids: Any) -> Any:
        """search.plan's Tier of each of these rowids (ascending), read from the FTS table's stored
        columns by rowid: the text match is not run again."""
        import numpy

        params: list[Any] = []
        tier = tier_expression(plan, params)
        columns = ", ".join(f"c{number} AS {name}" for number, name in enumerate(_FTS_COLUMNS))
        found = connection.execute(
            f"SELECT f.doc, {tier} FROM json_each(?) AS j CROSS JOIN "
            f"(SELECT id AS doc, {columns} FROM fts_{generation}_content) AS f ON f.doc = j.value",
            [*params, json.dumps(rowids.tolist())],
        ).fetchall()
        tiers = numpy.zeros(len(rowids), dtype=numpy.int64)
        docs = numpy.fromiter((row[0] for row in found), dtype=numpy.int64, count=len(found))
        tiers[numpy.searchsorted(rowids, docs)] = [row[1] for row in found]
        return tiers

    def _ranked(
        self,
        connection: sqlite3.Connection,
        generation: int,
        query: SearchQuery,
        plan: TextPlan,
        bitmaps: DocumentBitmaps,
        found: TextMatch,
        rowids: Any,
        bm25: Any,
        created: Any,
        groups: Any,
    ) -> tuple[Any, Any]:
        """Under relevance: each matched document's score, exact for every document that can be on the
        page (bounds for the others), and which documents can be (search.bitmaps.candidates).

        Reading every match's tier costs ~3 µs a document, so a large match reads exact tiers only for
        documents that can reach the page. The documents matching the title conditions
        (title_tier_expression, one FTS5 match without BM25) are read first; any other is of
        Tier.body_phrase at most and starts with that bound. Unread documents are then read when their
        bound could still change which groups are kept, and when they are in a kept group; the kept
        groups of bounds that are exact wherever kept are the kept groups of exact scores.
        """
        import numpy

        wanted = query.offset + query.limit
        positions = numpy.searchsorted(found.rowids, rowids)
        tiers = found.tiers[positions].astype(numpy.int64)

        def read(which: Any) -> None:
            tiers[which] = self._match_tiers(connection, generation, plan, found, rowids[which])

        unknown = tiers < 0
        expression = title_tier_expression(plan)
        if int(unknown.sum()) < TIERS_READ_ALL or expression is None:
            if bool(unknown.any()):
                read(unknown)
            scores = self._scores(query, bitmaps, rowids, tiers, bm25)
            return scores, candidates([-scores, created], groups, wanted)
        if found.title is None:
            titled = connection.execute(
                f"SELECT rowid FROM fts_{generation} WHERE fts_{generation} MATCH ?", (expression,)
            ).fetchall()
            found.title = BitMap(row[0] for row in titled)
        in_title = unknown & numpy.isin(rowids, bitmaps.rowids(found.title))
        if bool(in_title.any()):
            read(in_title)
        _, group_of = numpy.unique(groups, return_inverse=True)
        group_count = int(group_of.max()) + 1 if len(group_of) else 0
        while True:
            unknown = tiers < 0
            upper = self._scores(
                query, bitmaps, rowids, numpy.where(unknown, int(Tier.body_phrase), tiers), bm25
            )
            if not bool(unknown.any()):
                return upper, candidates([-upper, created], groups, wanted)
            if group_count > wanted:
                # The wanted-th best group by lower bounds: no group below it can be on the page.
                lower = self._scores(query, bitmaps, rowids, numpy.where(unknown, 0, tiers), bm25)
                best = numpy.full(group_count, -numpy.inf)
                numpy.maximum.at(best, group_of, lower)
                floor = numpy.partition(best, group_count - wanted)[group_count - wanted]
                competing = unknown & (upper >= floor)
                if bool(competing.any()):
                    read(competing)
                    continue
            kept = candidates([-upper, created], groups, wanted)
            pending = kept & unknown
            if not bool(pending.any()):
                return upper, kept
            read(pending)

    @staticmethod
    def _scores(query: SearchQuery, bitmaps: DocumentBitmaps, rowids: Any, tiers: Any, bm25: Any) -> Any:
        """Each document's score, as the SQL expression of search.plan computed it, operation by
        operation in the same order (so the same doubles): tier * TIER_WEIGHT - BM25, and under
        relevance the showcase boost and, grouped, the own document's weight."""
        import numpy

        scores = tiers.astype(numpy.float64) * TIER_WEIGHT - bm25
        if query.sort == "relevance":
            levels = bitmaps.fields["exemplary_level"]
            weights = numpy.array([EXEMPLARY_WEIGHTS.get(value or "", 0.0) for value in levels.values])
            scores = scores + weights[levels.codes[rowids]]
            scores = scores + numpy.where(bitmaps.featured[rowids], FEATURED_WEIGHT, 0.0)
            if query.group_by_parent:
                kinds = bitmaps.fields["kind"]
                own = numpy.array([value in _OWN_KIND_VALUES for value in kinds.values])
                scores = scores + numpy.where(own[kinds.codes[rowids]], OWN_DOCUMENT_WEIGHT, 0.0)
        return scores

    def _page(
        self,
        connection: sqlite3.Connection,
        generation: int,
        query: SearchQuery,
        plan: TextPlan | None,
        bitmaps: DocumentBitmaps,
        matched: BitMap,
        found: TextMatch | None,
    ) -> list[tuple[str, float]]:
        """The stored documents of the page's rows and their scores, in order: hits by the query's
        order then id; grouped, each parent on the page (ordered by its best document) with its best
        1 + MORE_CANDIDATES documents.

        The order's keys (created_at, popularity; and the score under relevance with text) are
        compared in numpy over every matched document; only the documents of groups that can be on
        the page are read, to break ties by id, and only the page's stored documents are loaded.
        """
        import numpy

        rowids = bitmaps.rowids(matched)
        created = -bitmaps.created_at[rowids]
        groups = bitmaps.parent_of[rowids] if query.group_by_parent else rowids
        bm25: Any = None
        if plan is not None and found is not None:
            bm25 = found.bm25[numpy.searchsorted(found.rowids, rowids)]
        scores: Any = None
        keys: list[Any]
        if plan is not None and found is not None and query.sort == "relevance":
            scores, kept = self._ranked(
                connection, generation, query, plan, bitmaps, found, rowids, bm25, created, groups
            )
            keys = [-scores, created]
        else:
            keys = [-bitmaps.popularity[rowids], created] if query.sort == "popular" else [created]
            kept = candidates(keys, groups, query.offset + query.limit)
        kept_rowids: list[int] = rowids[kept].tolist()
        ids = dict(
            connection.execute(
                f"SELECT rowid, id FROM docs_{generation} WHERE rowid IN (SELECT value FROM json_each(?))",
                (json.dumps(kept_rowids),),
            ).fetchall()
        )
        kept_keys = [key[kept].tolist() for key in keys]
        entries = sorted(
            range(len(kept_rowids)),
            key=lambda entry: (*(key[entry] for key in kept_keys), ids[kept_rowids[entry]]),
        )
        end = query.offset + query.limit
        if query.group_by_parent:
            kept_groups: list[int] = groups[kept].tolist()
            members: dict[int, list[int]] = {}
            for entry in entries:
                # Groups come in the order of their best documents.
                members.setdefault(kept_groups[entry], []).append(entry)
            chosen = [
                entry
                for group in list(members.values())[query.offset : end]
                for entry in group[: 1 + MORE_CANDIDATES]
            ]
        else:
            chosen = entries[query.offset : end]
        page = [kept_rowids[entry] for entry in chosen]
        if scores is not None:
            kept_scores = scores[kept].tolist()
            page_scores = [kept_scores[entry] for entry in chosen]
        elif plan is not None and found is not None:
            page_rowids = numpy.array(page, dtype=numpy.int64)
            order = numpy.argsort(page_rowids)
            tiers = numpy.empty(len(page), dtype=numpy.int64)
            tiers[order] = self._match_tiers(connection, generation, plan, found, page_rowids[order])
            page_bm25 = found.bm25[numpy.searchsorted(found.rowids, page_rowids)]
            page_scores = self._scores(query, bitmaps, page_rowids, tiers, page_bm25).tolist()
        else:
            page_scores = [0.0] * len(page)
        sources = dict(
            connection.execute(
                f"SELECT rowid, source FROM docs_{generation} "
                "WHERE rowid IN (SELECT value FROM json_each(?))",
                (json.dumps(page),),
            ).fetchall()
        )
        return [(sources[rowid], score) for rowid, score in zip(page, page_scores, strict=True)]

    async def search(self, query: SearchQuery) -> SearchResult:
        return await query.run(self._search, self.fuzzy)

    async def _search(self, query: SearchQuery) -> SearchResult:
        plan = (
            plan_query(query.text, query.synonym_groups, fuzzy=self.fuzzy, homophones=query.homophones)
            if query.text.strip()
            else None
        )
        if query.text.strip() and plan is None:
            return SearchResult(total=0, hits=[], facets={field: [] for field in query.facets})
        for field in query.facets:
            if field not in FACET_FIELDS:
                raise ValueError(f"cannot facet on {field!r}")

        def read(connection: sqlite3.Connection) -> SearchResult:
            generation = self._live(connection)
            # Totals and facets come from the bitmaps, at this transaction's snapshot; the text match
            # runs once, giving the rowids it matches and their BM25.
            bitmaps = self._synced_bitmaps(connection, generation)
            visible = bitmaps.access(query.access)
            text: BitMap | None = None
            found: TextMatch | None = None
            if plan is not None:
                found = self._text_match(connection, generation, plan, bitmaps)
                text = found.bitmap
            matched = bitmaps.matching(query, visible, text)
            total = bitmaps.total(matched, query.group_by_parent)
            if query.limit == 0 or not matched:
                rows = []  # counts and facets only, or nothing to read
            else:
                rows = self._page(connection, generation, query, plan, bitmaps, matched, found)
            highlighter = Highlighter(plan)

            def hit_of(source: dict[str, Any], score: float) -> SearchHit:
                document = SearchDocument.model_validate(source)
                return SearchHit(
                    id=document.id,
                    kind=document.kind,
                    parent_id=document.parent_id,
                    score=score,
                    document=document,
                    highlights=highlighter.highlights(document.title, document.body),
                )

            hits: list[SearchHit] = []
            more: list[SearchHit] = []
            for raw, row_score in rows:
                source = json.loads(raw)
                if query.group_by_parent and hits and hits[-1].parent_id == source["parent_id"]:
                    # Rows come best first within each parent: the first is the hit, the rest candidates
                    # for its `more`, validated and highlighted only when kept.
                    if len(more) < MORE_PER_HIT and worth_more(
                        hits[-1].id, source, lambda body: highlighter.body(body) is not None
                    ):
                        more.append(hit_of(source, float(row_score)))
                    continue
                if hits:
                    hits[-1].more = further_matches(hits[-1], more)
                    more = []
                hits.append(hit_of(source, float(row_score)))
            if hits:
                hits[-1].more = further_matches(hits[-1], more)
            facets = {
                # Counted under every filter but the field's own (SearchQuery.without_filter_on).
                field: bitmaps.facet(
                    field,
                    bitmaps.matching(query.without_filter_on(field), visible, text)
                    if query.filters_on(field)
                    else matched,
                    query.group_by_parent,
                )
                for field in query.facets
            }
            return SearchResult(total=int(total), hits=hits, facets=facets)

        return await self._run(lambda connection: self._in_snapshot(connection, read))

    async def suggest(self, prefix: str, access: AccessFilter, *, limit: int = 10) -> list[Suggestion]:
        prefixes = suggest_prefixes(prefix)
        if prefixes is None or limit <= 0:
            return []

        def read(connection: sqlite3.Connection) -> list[Suggestion]:
            generation = self._live(connection)
            # The key index is the way in; the kind index would start from every resource.
            clauses, params = self._where(SearchQuery(access=access, kinds=list(SUGGEST_KINDS)))
            matches = ["(s.key >= ? AND s.key < ?)"]
            key_params: list[Any] = [prefixes.text, prefixes.text + _PREFIX_END]
            if prefixes.pinyin is not None:
                matches.append(f"(s.tier = {OTHER_TIER} AND s.key >= ? AND s.key < ?)")
                key_params.extend([prefixes.pinyin, prefixes.pinyin + _PREFIX_END])
            cursor = connection.execute(
                f"SELECT d.source, max(s.tier) AS tier, min(s.length) AS length "
                f"FROM suggest_{generation} AS s JOIN docs_{generation} AS d ON d.rowid = s.doc_rowid "
                f"WHERE ({' OR '.join(matches)}) AND {' AND '.join(clauses)} GROUP BY d.rowid "
                "ORDER BY tier DESC, d.popularity DESC, length, d.created_at DESC, d.id",
                [*key_params, *params],
            )
            suggestions: dict[str, Suggestion] = {}
            for raw, _tier, _length in cursor:
                document = SearchDocument.model_validate_json(raw)
                suggestions.setdefault(
                    title_key(document.title),
                    Suggestion(text=document.title, parent_id=document.parent_id, kind=document.kind),
                )
                if len(suggestions) >= limit:
                    break
            return list(suggestions.values())

        return await self._run(read)

    async def rebuild(self, documents: AsyncIterable[Sequence[SearchDocument]]) -> int:
        def begin(connection: sqlite3.Connection) -> int:
            live = self._live(connection)
            previous = self._meta(connection, "building")
            if previous is not None:
                self._drop_generation(connection, previous)
            generation = max(live, previous or 0) + 1
            self._create_generation(connection, generation)
            self._set_meta(connection, "building", generation)
            return generation

        generation = await self._run(begin)
        written = 0
        try:
            async for batch in documents:

                def write(connection: sqlite3.Connection, batch: Sequence[SearchDocument] = batch) -> None:
                    self._in_transaction(connection, lambda: self._upsert_into(connection, generation, batch))

                await self._run(write)
                written += len(batch)
        except BaseException:

            def abandon(connection: sqlite3.Connection) -> None:
                self._set_meta(connection, "building", None)
                self._drop_generation(connection, generation)

            await self._run(abandon)
            raise

        def swap(connection: sqlite3.Connection) -> None:
            old = self._live(connection)

            def work() -> None:
                self._set_meta(connection, "live", generation)
                self._set_meta(connection, "building", None)
                self._drop_generation(connection, old)

            self._in_transaction(connection, work)

        await self._run(swap)
        return written

    async def drop_all(self) -> None:
        await self.close()

        def remove_files() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

        await to_thread.run_sync(remove_files)

    async def close(self) -> None:
        with self._lock:
            self._bitmaps = None
            if self._connection is not None:
                self._connection.close()
                self._connection = None
