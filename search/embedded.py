"""Embedded search index: SQLite FTS5 with BM25, no server to install.

Versioned like the Elasticsearch backend: each generation is its own pair of tables and a meta row
names the live one, so a rebuild fills a new generation and swaps it in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import AsyncIterable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from anyio import to_thread

from search.documents import FACET_FIELDS, FacetValue, SearchDocument, SearchHit, SearchQuery, SearchResult
from search.text import chars_field, query_words, words_field

T = TypeVar("T")
_KEYWORD_COLUMNS = tuple(field for field in FACET_FIELDS if field != "tags")
# bm25 weights per FTS column: title_words, body_words, title_chars, body_chars.
_BM25_WEIGHTS = "4.0, 1.0, 8.0, 2.0"


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def fts_match_expression(text: str) -> str | None:
    """All query words in the word columns, or the whole query as a phrase in the character columns."""
    words = query_words(text)
    chars = chars_field(text)
    if not words and not chars:
        return None
    clauses = []
    if words:
        clauses.append("{title_words body_words} : (" + " AND ".join(_quote(word) for word in words) + ")")
    if chars:
        clauses.append("{title_chars body_chars} : " + _quote(chars))
    return " OR ".join(f"({clause})" for clause in clauses)


class EmbeddedSearchIndex:
    name = "embedded"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

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

    @staticmethod
    def _create_generation(connection: sqlite3.Connection, generation: int) -> None:
        keyword_columns = ", ".join(f"{column} TEXT" for column in _KEYWORD_COLUMNS)
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS docs_{generation} ("
            "rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent_id TEXT NOT NULL, "
            f"{keyword_columns}, tags TEXT NOT NULL, owner_id TEXT, visibility TEXT NOT NULL, "
            "status TEXT NOT NULL, created_at REAL NOT NULL, popularity INTEGER NOT NULL, "
            "source TEXT NOT NULL)"
        )
        connection.execute(
            f"CREATE INDEX IF NOT EXISTS docs_{generation}_parent ON docs_{generation}(parent_id)"
        )
        connection.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS fts_{generation} USING fts5("
            "title_words, body_words, title_chars, body_chars, tokenize = 'unicode61 remove_diacritics 0')"
        )

    @staticmethod
    def _drop_generation(connection: sqlite3.Connection, generation: int) -> None:
        connection.execute(f"DROP TABLE IF EXISTS fts_{generation}")
        connection.execute(f"DROP TABLE IF EXISTS docs_{generation}")

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

    async def ensure_ready(self) -> None:
        def create(connection: sqlite3.Connection) -> None:
            if self._meta(connection, "live") is None:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    if self._meta(connection, "live") is None:
                        self._create_generation(connection, 1)
                        self._set_meta(connection, "live", 1)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise

        await self._run(create)

    async def ping(self) -> None:
        await self._run(lambda connection: self._live(connection))

    @staticmethod
    def _upsert_into(
        connection: sqlite3.Connection, generation: int, documents: Sequence[SearchDocument]
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
            "source",
        )
        placeholders = ", ".join("?" for _ in columns)
        for document in documents:
            old = connection.execute(
                f"SELECT rowid FROM docs_{generation} WHERE id = ?", (document.id,)
            ).fetchone()
            if old:
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
                document.model_dump_json(),
            ]
            cursor = connection.execute(
                f"INSERT INTO docs_{generation} ({', '.join(columns)}) VALUES ({placeholders})", values
            )
            connection.execute(
                f"INSERT INTO fts_{generation} (rowid, title_words, body_words, title_chars, body_chars) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    cursor.lastrowid,
                    words_field(document.title),
                    words_field(document.body),
                    chars_field(document.title),
                    chars_field(document.body),
                ),
            )

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

    async def _delete_where(self, column: str, values: Sequence[str]) -> None:
        if not values:
            return

        def write(connection: sqlite3.Connection) -> None:
            def work() -> None:
                marks = ", ".join("?" for _ in values)
                for generation in self._write_targets(connection):
                    connection.execute(
                        f"DELETE FROM fts_{generation} WHERE rowid IN "
                        f"(SELECT rowid FROM docs_{generation} WHERE {column} IN ({marks}))",
                        list(values),
                    )
                    connection.execute(
                        f"DELETE FROM docs_{generation} WHERE {column} IN ({marks})", list(values)
                    )

            self._in_transaction(connection, work)

        await self._run(write)

    async def delete(self, ids: Sequence[str]) -> None:
        await self._delete_where("id", ids)

    async def delete_by_parent(self, parent_ids: Sequence[str]) -> None:
        await self._delete_where("parent_id", parent_ids)

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
        clauses: list[str] = []
        params: list[Any] = []
        for field, values in query.filters.items():
            if not values:
                continue
            marks = ", ".join("?" for _ in values)
            if field == "tags":
                clauses.append(f"EXISTS (SELECT 1 FROM json_each(d.tags) WHERE json_each.value IN ({marks}))")
            elif field in _KEYWORD_COLUMNS:
                clauses.append(f"d.{field} IN ({marks})")
            else:
                raise ValueError(f"cannot filter on {field!r}")
            params.extend(values)
        if query.kinds:
            clauses.append(f"d.kind IN ({', '.join('?' for _ in query.kinds)})")
            params.extend(kind.value for kind in query.kinds)
        access = query.access
        if not access.see_everything:
            visible = ["d.owner_id = ?"]
            params.append(access.user_id or "")
            if access.whole_school and access.school_id:
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

    async def search(self, query: SearchQuery) -> SearchResult:
        match = fts_match_expression(query.text) if query.text.strip() else None
        if query.text.strip() and match is None:
            return SearchResult(total=0, hits=[], facets={field: [] for field in query.facets})
        for field in query.facets:
            if field not in FACET_FIELDS:
                raise ValueError(f"cannot facet on {field!r}")

        def read(connection: sqlite3.Connection) -> SearchResult:
            generation = self._live(connection)
            clauses, params = self._where(query)
            source = f"docs_{generation} AS d"
            score = "0.0"
            if match is not None:
                source += f" JOIN fts_{generation} AS f ON f.rowid = d.rowid"
                clauses.insert(0, f"fts_{generation} MATCH ?")
                params.insert(0, match)
                score = f"-bm25(fts_{generation}, {_BM25_WEIGHTS})"
            where = " WHERE " + " AND ".join(clauses) if clauses else ""
            order = {
                "relevance": "score DESC, d.created_at DESC" if match is not None else "d.created_at DESC",
                "newest": "d.created_at DESC",
                "popular": "d.popularity DESC, d.created_at DESC",
            }[query.sort]
            total = connection.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()[0]
            rows = connection.execute(
                f"SELECT d.source, {score} AS score FROM {source}{where} "
                f"ORDER BY {order}, d.id LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
            hits = []
            for raw, row_score in rows:
                document = SearchDocument.model_validate_json(raw)
                hits.append(
                    SearchHit(
                        id=document.id,
                        kind=document.kind,
                        parent_id=document.parent_id,
                        score=float(row_score),
                        document=document,
                    )
                )
            facets: dict[str, list[FacetValue]] = {}
            for field in query.facets:
                if field == "tags":
                    value_sql = f"SELECT json_each.value AS value FROM {source} JOIN json_each(d.tags){where}"
                else:
                    value_sql = f"SELECT d.{field} AS value FROM {source}{where}"
                counted = connection.execute(
                    f"SELECT value, count(*) AS n FROM ({value_sql}) WHERE value IS NOT NULL "
                    "GROUP BY value ORDER BY n DESC, value LIMIT 50",
                    params,
                ).fetchall()
                facets[field] = [FacetValue(value=str(value), count=int(n)) for value, n in counted]
            return SearchResult(total=int(total), hits=hits, facets=facets)

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
            if self._connection is not None:
                self._connection.close()
                self._connection = None
