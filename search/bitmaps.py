"""The embedded index's documents as compressed bitmaps, for filters, the read rule, totals and facets.

Counting facets in SQL scanned every matching row once per facet (ten facets: ten scans, each
repeating the text match). Here each process keeps, per live generation, a roaring bitmap of document
rowids per facet value and per value of the fields the read rule looks at (owner, visibility, status,
school), and an array of each single-valued field's value codes and of each document's parent. A
query's filters and read rule are then unions and intersections of bitmaps; its facet counts are
bincounts over the matching rowids (documents) or over their distinct (parent, value) pairs (parents):
exact, as the SQL counts were.

The bitmaps follow the index's writes through a change log every writer appends to in the same
transaction (`changes_<generation>`: the rowids written or deleted, in order), whichever process
wrote: before each query a reader applies the entries after the last one it saw, re-reading those
rows. A new live generation (rebuild, schema upgrade) or a log trimmed past what a reader saw means a
full load from the documents table.

The text matches of recent queries (rowids, BM25, tiers) are kept with the bitmaps, for the state they
were read at: any write to the live generation, by any process, moves the change log, and the next
sync drops them all (BM25 depends on every document, so no match survives a write).
"""

from __future__ import annotations

import array
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap

from search.documents import FACET_FIELDS, OWN_DOCUMENT_KINDS, AccessFilter, FacetValue, SearchQuery

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Facet fields holding one value per document (tags hold a list).
SINGLE_FIELDS = tuple(name for name in FACET_FIELDS if name != "tags")
# Fields the read rule looks at beside school_id (a facet field already).
ACCESS_FIELDS = ("owner_id", "visibility", "status")
_CODED = (*SINGLE_FIELDS, *ACCESS_FIELDS)
# The change log keeps this many entries; a reader further behind loads everything again.
CHANGES_KEPT = 50_000
# More changes than this since a reader's last query: a full load is cheaper than applying them.
MAX_CHANGES_APPLIED = 20_000
FACET_SIZE = 50
# Text matches kept per process, in matched rowids over all of them (~13 bytes each plus the bitmap):
# a common word matches tens of thousands of documents, and its FTS5 match with BM25 costs 30-100 ms.
TEXT_MATCHES_KEPT = 1_500_000


def changes_table(generation: int) -> str:
    return f"changes_{generation}"


def create_changes_table(connection: sqlite3.Connection, generation: int) -> None:
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {changes_table(generation)} "
        "(seq INTEGER PRIMARY KEY AUTOINCREMENT, doc_rowid INTEGER NOT NULL)"
    )


def log_changes(connection: sqlite3.Connection, generation: int, rowids: Iterable[int]) -> None:
    """Record rowids written or deleted in the live generation (in the writer's transaction)."""
    table = changes_table(generation)
    connection.executemany(f"INSERT INTO {table} (doc_rowid) VALUES (?)", [(rowid,) for rowid in rowids])
    connection.execute(
        f"DELETE FROM {table} WHERE seq <= (SELECT max(seq) FROM {table}) - ?", (CHANGES_KEPT,)
    )


def log_changes_where(
    connection: sqlite3.Connection, generation: int, where: str, params: Sequence[Any]
) -> None:
    """Record the rowids of documents about to be deleted by `where` (over the documents table)."""
    table = changes_table(generation)
    connection.execute(
        f"INSERT INTO {table} (doc_rowid) SELECT rowid FROM docs_{generation} WHERE {where}", params
    )
    connection.execute(
        f"DELETE FROM {table} WHERE seq <= (SELECT max(seq) FROM {table}) - ?", (CHANGES_KEPT,)
    )


def _numpy() -> Any:
    # Imported on first use: only the embedded backend needs it, and only once searched.
    import numpy

    return numpy


def _rowids(bitmap: BitMap) -> npt.NDArray[np.uint32]:
    numpy = _numpy()
    rowids: npt.NDArray[np.uint32] = numpy.frombuffer(bitmap.to_array(), dtype=numpy.uint32)
    return rowids


def _bitmap(values: Any) -> BitMap:
    return BitMap(array.array("I", values.astype("uint32").tobytes()))


@dataclass
class _Coded:
    """One single-valued field: value codes per rowid (0 = none), and a bitmap per value."""

    codes: Any  # numpy int32 array indexed by rowid
    values: list[str | None] = field(default_factory=lambda: [None])
    index: dict[str, int] = field(default_factory=dict)
    bitmaps: dict[str, BitMap] = field(default_factory=dict)

    def code(self, value: str | None) -> int:
        if value is None:
            return 0
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code


@dataclass
class TextMatch:
    """One text match at the bitmaps' state: the rowids it matches (ascending), each one's BM25, the
    same rowids as a bitmap, and each one's tier once read (-1 until then)."""

    rowids: Any  # numpy int64
    bm25: Any  # numpy float64
    bitmap: BitMap
    tiers: Any  # numpy int8
    # The documents matching its title conditions (search.embedded.title_tier_expression), once read.
    title: BitMap | None = None


# Sort keys and boosts per rowid, beside the codes: a page of hits is picked from these (search.embedded).
_NUMERIC = ("created_at", "popularity", "featured")
_ROW_COLUMNS = ("rowid", "parent_id", *(name for name in _CODED), *_NUMERIC, "tags")


class DocumentBitmaps:
    """One process's bitmaps of one generation; used under the index's connection lock only."""

    def __init__(self, text_matches_kept: int = TEXT_MATCHES_KEPT) -> None:
        self.generation: int | None = None
        self.seq = 0
        self.text_matches_kept = text_matches_kept
        # The last grouping of matched documents by parent (see _grouping), within one query.
        self._grouped: tuple[BitMap, tuple[Any, Any, Any]] | None = None
        self._reset()

    def _reset(self) -> None:
        numpy = _numpy()
        self.present = BitMap()
        self.fields = {name: _Coded(numpy.zeros(0, dtype=numpy.int32)) for name in _CODED}
        self.tags: dict[str, BitMap] = {}
        self.parents: dict[str, int] = {}
        self.parent_of = numpy.zeros(0, dtype=numpy.int32)
        self.created_at = numpy.zeros(0, dtype=numpy.float64)
        self.popularity = numpy.zeros(0, dtype=numpy.int64)
        self.featured = numpy.zeros(0, dtype=numpy.bool_)
        self._text_matches: OrderedDict[str, TextMatch] = OrderedDict()
        self._text_rowids_kept = 0

    # -- keeping up with the index ----------------------------------------------------------------

    def sync(self, connection: sqlite3.Connection, generation: int) -> None:
        """Bring the bitmaps up to the connection's current snapshot (call inside its read transaction)."""
        self._grouped = None
        table = changes_table(generation)
        if self.generation != generation:
            self._load(connection, generation)
            return
        latest = int(connection.execute(f"SELECT coalesce(max(seq), 0) FROM {table}").fetchone()[0])
        if latest == self.seq:
            return
        # Something was written since: every kept text match is stale (BM25 depends on every document).
        self._text_matches.clear()
        self._text_rowids_kept = 0
        if latest < self.seq:
            # Not the log this process followed (the index file was replaced): start again.
            self._load(connection, generation)
            return
        rows = connection.execute(
            f"SELECT seq, doc_rowid FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?",
            (self.seq, MAX_CHANGES_APPLIED + 1),
        ).fetchall()
        if rows[0][0] != self.seq + 1 or len(rows) > MAX_CHANGES_APPLIED:
            # Trimmed past what this process saw, or too many to apply one by one.
            self._load(connection, generation)
            return
        touched = BitMap(rowid for _, rowid in rows)
        self._remove(touched)
        self._add_rows(
            connection.execute(
                f"SELECT {', '.join(_ROW_COLUMNS)} FROM docs_{generation} "
                "WHERE rowid IN (SELECT value FROM json_each(?))",
                (json.dumps(list(touched)),),
            )
        )
        self.seq = rows[-1][0]

    def _load(self, connection: sqlite3.Connection, generation: int) -> None:
        self._reset()
        self.generation = generation
        self.seq = int(
            connection.execute(f"SELECT coalesce(max(seq), 0) FROM {changes_table(generation)}").fetchone()[0]
        )
        self._add_rows(connection.execute(f"SELECT {', '.join(_ROW_COLUMNS)} FROM docs_{generation}"))

    def _remove(self, rowids: BitMap) -> None:
        numpy = _numpy()
        indexes = _rowids(rowids)
        indexes = indexes[indexes < len(self.parent_of)]
        for coded in self.fields.values():
            for code in numpy.unique(coded.codes[indexes]):
                value = coded.values[int(code)]
                if value is not None:
                    coded.bitmaps[value] -= rowids
            coded.codes[indexes] = 0
        for bitmap in self.tags.values():
            bitmap -= rowids
        self.present -= rowids

    def _grow(self, size: int) -> None:
        numpy = _numpy()
        if size <= len(self.parent_of):
            return
        size = max(size, 2 * len(self.parent_of), 1024)
        for coded in self.fields.values():
            coded.codes = numpy.concatenate(
                [coded.codes, numpy.zeros(size - len(coded.codes), dtype=numpy.int32)]
            )
        grown = size - len(self.parent_of)
        self.parent_of = numpy.concatenate([self.parent_of, numpy.zeros(grown, dtype=numpy.int32)])
        self.created_at = numpy.concatenate([self.created_at, numpy.zeros(grown, dtype=numpy.float64)])
        self.popularity = numpy.concatenate([self.popularity, numpy.zeros(grown, dtype=numpy.int64)])
        self.featured = numpy.concatenate([self.featured, numpy.zeros(grown, dtype=numpy.bool_)])

    def _add_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        numpy = _numpy()
        rows = list(rows)
        if not rows:
            return
        rowids = numpy.fromiter((row[0] for row in rows), dtype=numpy.int64, count=len(rows))
        self._grow(int(rowids.max()) + 1)
        parents = self.parents
        self.parent_of[rowids] = [parents.setdefault(row[1], len(parents)) for row in rows]
        for offset, name in enumerate(_CODED, start=2):
            coded = self.fields[name]
            codes = numpy.fromiter(
                (coded.code(None if row[offset] is None else str(row[offset])) for row in rows),
                dtype=numpy.int32,
                count=len(rows),
            )
            coded.codes[rowids] = codes
            order = numpy.argsort(codes, kind="stable")
            sorted_codes = codes[order]
            starts = numpy.flatnonzero(numpy.diff(sorted_codes, prepend=-1))
            ends = [*starts[1:], len(order)]
            for start, end in zip(starts, ends, strict=True):
                value = coded.values[int(sorted_codes[start])]
                if value is None:
                    continue
                added = _bitmap(rowids[order[start:end]])
                existing = coded.bitmaps.get(value)
                if existing is None:
                    coded.bitmaps[value] = added
                else:
                    existing |= added
        numeric = 2 + len(_CODED)
        self.created_at[rowids] = [row[numeric] for row in rows]
        self.popularity[rowids] = [row[numeric + 1] for row in rows]
        self.featured[rowids] = [bool(row[numeric + 2]) for row in rows]
        tag_rows: dict[str, list[int]] = {}
        for row in rows:
            for tag in json.loads(row[-1]):
                tag_rows.setdefault(str(tag), []).append(row[0])
        for tag, tagged in tag_rows.items():
            self.tags.setdefault(tag, BitMap()).update(tagged)
        self.present |= _bitmap(rowids)

    # -- queries ----------------------------------------------------------------------------------

    def _values(self, name: str) -> dict[str, BitMap]:
        return self.tags if name == "tags" else self.fields[name].bitmaps

    def _any(self, name: str, values: Iterable[str]) -> BitMap:
        bitmaps = self._values(name)
        return BitMap.union(BitMap(), *(bitmaps[value] for value in values if value in bitmaps))

    def access(self, access: AccessFilter) -> BitMap:
        """The documents the read rule lets this reader see (search.embedded._where, as bitmaps)."""
        if access.see_everything:
            return self.present
        visibility = self.fields["visibility"].bitmaps
        empty = BitMap()
        not_private = self.present - visibility.get("private", empty)
        schools = self.fields["school_id"].bitmaps
        own_school = schools.get(access.school_id, empty) if access.school_id else empty
        visible = self._any("owner_id", [access.user_id or ""])
        if access.whole_district:
            visible |= not_private
        elif access.whole_school and access.school_id:
            visible |= own_school & not_private
        published = visibility.get("school", empty) & own_school
        published |= self._any("visibility", access.published_visibilities)
        visible |= self.fields["status"].bitmaps.get("published", empty) & published
        return visible

    def matching(self, query: SearchQuery, access: BitMap, text: BitMap | None) -> BitMap:
        """The documents a query matches: its text (rowids the full-text match gave), filters, kinds."""
        result = access if text is None else access & text
        for name, values in query.filters.items():
            if values:
                if name not in FACET_FIELDS:
                    raise ValueError(f"cannot filter on {name!r}")
                result = result & self._any(name, values)
        if query.kinds:
            result = result & self._any("kind", [kind.value for kind in query.kinds])
        if query.own_documents_only:
            result = result & self._any("kind", [kind.value for kind in OWN_DOCUMENT_KINDS])
        return result

    def _grouping(self, matched: BitMap) -> tuple[Any, Any, Any]:
        """The matched rowids; the index of each distinct parent's first matched document among them;
        and each document's parent as an index into those. Kept for the query's other facets counted
        over the same documents (until the next sync)."""
        if self._grouped is not None and self._grouped[0] is matched:
            return self._grouped[1]
        numpy = _numpy()
        rowids = _rowids(matched)
        _, first, inverse = numpy.unique(self.parent_of[rowids], return_index=True, return_inverse=True)
        grouping = (rowids, first, inverse)
        self._grouped = (matched, grouping)
        return grouping

    def total(self, matched: BitMap, grouped: bool) -> int:
        if not grouped:
            return len(matched)
        return len(self._grouping(matched)[1])

    def facet(self, name: str, matched: BitMap, grouped: bool) -> list[FacetValue]:
        """Counts per value of `name` over the matched documents (grouped: the distinct parents having
        a matched document with that value), most first, then by value; at most FACET_SIZE."""
        numpy = _numpy()
        counts: list[tuple[str, int]] = []
        if name == "tags":
            for tag, bitmap in self.tags.items():
                count = matched.intersection_cardinality(bitmap)
                if count and grouped:
                    count = len(numpy.unique(self.parent_of[_rowids(matched & bitmap)]))
                if count:
                    counts.append((tag, int(count)))
        else:
            coded = self.fields[name]
            if grouped:
                rowids, first, inverse = self._grouping(matched)
                codes = coded.codes[rowids]
                # Usually every document of a parent carries its value: then each parent counts once
                # with it. Otherwise, the distinct (parent, value) pairs.
                parents_codes = codes[first]
                if numpy.array_equal(codes, parents_codes[inverse]):
                    codes = parents_codes
                else:
                    width = numpy.int64(len(coded.values))
                    pairs = numpy.unique(self.parent_of[rowids].astype(numpy.int64) * width + codes)
                    codes = pairs % width
            else:
                codes = coded.codes[_rowids(matched)]
            tally = numpy.bincount(codes, minlength=len(coded.values))
            counts = [
                (value, int(tally[code]))
                for code, value in enumerate(coded.values)
                if value is not None and code < len(tally) and tally[code]
            ]
        counts.sort(key=lambda item: (-item[1], item[0]))
        return [FacetValue(value=value, count=count) for value, count in counts[:FACET_SIZE]]

    # -- text matches of recent queries ------------------------------------------------------------

    def text_match(self, key: str) -> TextMatch | None:
        """The match kept under key at this state, if any."""
        match = self._text_matches.get(key)
        if match is not None:
            self._text_matches.move_to_end(key)
        return match

    def keep_text_match(self, key: str, rowids: Any, bm25: Any) -> TextMatch:
        """A match just read at this state, kept for the next queries until a write (least recently
        used first out beyond text_matches_kept rowids)."""
        numpy = _numpy()
        match = TextMatch(
            rowids=rowids, bm25=bm25, bitmap=_bitmap(rowids), tiers=numpy.full(len(rowids), -1, numpy.int8)
        )
        if len(rowids) > self.text_matches_kept:
            return match
        self._text_matches[key] = match
        self._text_rowids_kept += len(rowids)
        while self._text_rowids_kept > self.text_matches_kept:
            _, dropped = self._text_matches.popitem(last=False)
            self._text_rowids_kept -= len(dropped.rowids)
        return match

    # -- picking a page ---------------------------------------------------------------------------

    def rowids(self, matched: BitMap) -> Any:
        return _rowids(matched).astype(_numpy().int64)


def candidates(keys: Sequence[Any], groups: Any, wanted: int) -> Any:
    """Which documents can be on a page of the first `wanted` groups: a boolean mask over them.

    keys: arrays of sort keys, primary first, each ascending (negate a DESC key); groups: each
    document's group (its parent, or itself). A group ranks by its best document; groups whose best
    document ties on every key with the last group of the first `wanted` are kept too, since the
    final tie-break (the document id) is not among the keys. Every document of a kept group is kept,
    so its further documents can be ranked as well.
    """
    numpy = _numpy()
    count = len(groups)
    if count == 0:
        return numpy.zeros(0, dtype=numpy.bool_)
    order = numpy.lexsort(tuple(reversed(keys)))
    changed = numpy.zeros(count, dtype=numpy.bool_)
    changed[0] = True
    for key in keys:
        ordered = key[order]
        changed[1:] |= ordered[1:] != ordered[:-1]
    rank = numpy.empty(count, dtype=numpy.int64)
    rank[order] = numpy.cumsum(changed)
    distinct, inverse = numpy.unique(groups, return_inverse=True)
    if len(distinct) <= wanted:
        return numpy.ones(count, dtype=numpy.bool_)
    best = numpy.full(len(distinct), numpy.iinfo(numpy.int64).max, dtype=numpy.int64)
    numpy.minimum.at(best, inverse, rank)
    cutoff = numpy.partition(best, wanted - 1)[wanted - 1]
    kept: Any = (best <= cutoff)[inverse]
    return kept
