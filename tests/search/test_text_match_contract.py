"""A common word under a selective filter, searched again and again as documents change: the same
totals, facets, page, order and scores every time, on both backends.

The embedded index keeps recent queries' text matches (rowids, BM25, tiers) until the next write
(search.bitmaps): these tests repeat queries around writes, from this process and from another one,
and compare with an index that keeps none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from search import embedded
from search.documents import AccessFilter, DocKind, SearchDocument, SearchQuery, SearchResult
from search.embedded import EmbeddedSearchIndex
from search.index import SearchIndex
from tests.factories import search_document

pytestmark = pytest.mark.anyio

EVERYONE = AccessFilter(see_everything=True)
STUDENT_A = AccessFilter(
    user_id="student-a", school_id="school-a", published_visibilities=frozenset({"public", "district"})
)
FACETS = ["subject", "grade", "school_id", "kind", "tags"]


def corpus() -> list[SearchDocument]:
    """Many documents with the common word 作业 (a few in their titles), few of them at school-b."""
    documents = []
    for number in range(40):
        school = "school-b" if number % 10 == 0 else "school-a"
        title = f"分数的意义 作业 {number}" if number % 7 == 0 else f"分数的意义 {number}"
        body = "课后作业 设计 " * (1 + number % 3)
        documents.append(
            search_document(
                id=f"r{number}",
                title=title,
                body=body,
                school_id=school,
                subject="数学" if number % 2 else "语文",
                grade=str(1 + number % 3),
                visibility="public" if number % 5 else "district",
                popularity=number % 4,
            )
        )
        if number % 4 == 0:
            documents.append(
                search_document(
                    id=f"r{number}/page/1",
                    parent_id=f"r{number}",
                    kind=DocKind.file_page,
                    title=title,
                    body="第1页 作业 练习",
                    school_id=school,
                    page=1,
                )
            )
    return documents


def view(result: SearchResult) -> dict[str, Any]:
    return {
        "total": result.total,
        "hits": [(hit.id, round(hit.score, 6), [more.id for more in hit.more]) for hit in result.hits],
        "facets": {
            name: [(value.value, value.count) for value in values] for name, values in result.facets.items()
        },
    }


def queries() -> list[SearchQuery]:
    found = []
    for sort in ("relevance", "newest", "popular"):
        for grouped in (False, True):
            for offset in (0, 3):
                found.append(
                    SearchQuery(
                        text="作业",
                        access=STUDENT_A,
                        filters={"school_id": ["school-b"]},
                        facets=FACETS,
                        sort=sort,
                        group_by_parent=grouped,
                        offset=offset,
                        limit=4,
                    )
                )
    # The same word without the filter, and under another filter, between them.
    found.append(SearchQuery(text="作业", access=EVERYONE, facets=FACETS, limit=5))
    found.append(SearchQuery(text="作业", access=EVERYONE, filters={"grade": ["2"]}, facets=FACETS, limit=5))
    return found


async def test_a_common_word_under_a_selective_filter_stays_exact_across_writes(
    search_index: SearchIndex,
) -> None:
    await search_index.upsert(corpus())
    await search_index.refresh()
    first = [view(await search_index.search(query)) for query in queries()]
    # Repeated: the same.
    assert [view(await search_index.search(query)) for query in queries()] == first
    school_b = await search_index.search(queries()[0])
    assert school_b.total == 6  # r0, r10, r20, r30 and the pages of r0 and r20
    assert {hit.document.school_id for hit in school_b.hits} == {"school-b"}
    assert {value.value: value.count for value in school_b.facets["school_id"]} == {
        "school-a": 44,
        "school-b": 6,
    }

    # A write changes which documents match and every BM25 (more documents hold the word).
    await search_index.upsert(
        [
            search_document(id="new", title="作业 作业", body="作业", school_id="school-b", grade="2"),
            search_document(id="r10", title="分数的意义 10", body="没有那个词", school_id="school-b"),
        ]
    )
    await search_index.refresh()
    after = await search_index.search(queries()[0])
    assert after.total == 6  # r10 no longer matches, "new" does
    assert "new" in [hit.id for hit in after.hits] and "r10" not in [hit.id for hit in after.hits]
    assert after.hits[0].id == "new"
    assert [view(await search_index.search(query)) for query in queries()] != first

    await search_index.delete(["new"])
    await search_index.refresh()
    gone = await search_index.search(queries()[0])
    assert gone.total == 5
    assert "new" not in [hit.id for hit in gone.hits]


@pytest.fixture
async def three_on_one_file(
    tmp_path: Path,
) -> AsyncIterator[tuple[EmbeddedSearchIndex, EmbeddedSearchIndex, EmbeddedSearchIndex]]:
    """A reader keeping text matches, a reader keeping none, and another process that writes."""
    keeping = EmbeddedSearchIndex(tmp_path / "search.db")
    fresh = EmbeddedSearchIndex(tmp_path / "search.db", text_matches_kept=0)
    writer = EmbeddedSearchIndex(tmp_path / "search.db")
    for index in (keeping, fresh, writer):
        await index.ensure_ready()
    try:
        yield keeping, fresh, writer
    finally:
        for index in (keeping, fresh, writer):
            await index.close()


async def same_everywhere(keeping: EmbeddedSearchIndex, fresh: EmbeddedSearchIndex) -> None:
    for query in queries():
        # Twice through the reader that keeps matches: once filling, once from what it kept.
        filled = view(await keeping.search(query))
        again = view(await keeping.search(query))
        expected = view(await fresh.search(query))
        assert filled == expected, query
        assert again == expected, query


async def test_embedded_kept_text_matches_follow_writes_of_another_process(
    three_on_one_file: tuple[EmbeddedSearchIndex, EmbeddedSearchIndex, EmbeddedSearchIndex],
) -> None:
    keeping, fresh, writer = three_on_one_file
    await writer.upsert(corpus())
    await same_everywhere(keeping, fresh)
    # Written by the other process: a new match, a document that stops matching, a changed title
    # (tier), then deletes by id and by parent.
    await writer.upsert(
        [
            search_document(id="new", title="作业", body="作业 设计", school_id="school-b"),
            search_document(id="r20", title="分数的意义 20", body="没有那个词", school_id="school-b"),
            search_document(id="r30", title="作业 分数的意义 30", body="课后作业", school_id="school-b"),
        ]
    )
    await same_everywhere(keeping, fresh)
    await writer.delete(["new"])
    await same_everywhere(keeping, fresh)
    await writer.delete_by_parent(["r0"])
    await same_everywhere(keeping, fresh)

    async def batches() -> AsyncIterator[list[SearchDocument]]:
        yield corpus()[:10]

    await writer.rebuild(batches())
    await same_everywhere(keeping, fresh)


async def test_embedded_kept_text_matches_stay_within_their_budget(tmp_path: Path) -> None:
    index = EmbeddedSearchIndex(tmp_path / "search.db", text_matches_kept=60)
    await index.ensure_ready()
    try:
        await index.upsert(corpus())
        words = ("作业", "分数", "意义", "设计")
        searches = [SearchQuery(text=word, access=EVERYONE, facets=FACETS) for word in words]
        first = [view(await index.search(query)) for query in searches]
        again = [view(await index.search(query)) for query in searches]
        assert again == first
        bitmaps = index._bitmaps
        assert bitmaps is not None
        assert 0 < bitmaps._text_rowids_kept <= 60
    finally:
        await index.close()


async def test_embedded_relevance_reading_title_tiers_first_gives_the_same_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large match reads tiers of title matches first and others only where they can reach the page
    (EmbeddedSearchIndex._ranked): the same pages, order and scores as reading every tier."""
    index = EmbeddedSearchIndex(tmp_path / "search.db", text_matches_kept=0)
    await index.ensure_ready()
    try:
        # For 函数 习题 nothing matches in its title: the whole phrase in a long body (Tier.body_phrase,
        # weak BM25) must still rank above the words split between title and body (strong BM25).
        split = [search_document(id=f"split{n}", title=f"函数 练习 {n}", body="习题") for n in range(10)]
        phrase = [
            search_document(id=f"phrase{n}", title=f"练习 {n}", body="很长的一段文字 " * 20 + "函数习题")
            for n in range(3)
        ]
        await index.upsert([*corpus(), *split, *phrase])
        searches = [
            query.model_copy(update={"offset": offset, "limit": limit})
            for query in queries()
            if query.sort == "relevance"
            for offset, limit in ((0, 4), (2, 3), (5, 20), (0, 60))
        ]
        searches += [
            SearchQuery(text="函数 习题", access=EVERYONE, facets=FACETS, offset=offset, limit=limit)
            for offset, limit in ((0, 2), (1, 3), (0, 20))
        ]
        every_tier = [view(await index.search(query)) for query in searches]
        assert [hit.id for hit in (await index.search(searches[-3])).hits] == ["phrase2", "phrase1"]
        monkeypatch.setattr(embedded, "TIERS_READ_ALL", 0)
        assert [view(await index.search(query)) for query in searches] == every_tier
    finally:
        await index.close()
