"""Pages in every order, on both backends: ties broken by id, offsets that cut through ties, filters
and the read rule, and pages that follow writes between queries.

The embedded index picks a page from sort keys it keeps beside its bitmaps (search.embedded), so
these cases pin what it must keep equal to Elasticsearch: the same documents, in the same order, on
every page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from search.documents import DocKind, SearchDocument, SearchQuery, SearchResult
from search.embedded import EmbeddedSearchIndex
from search.index import SearchIndex
from tests.factories import search_document
from tests.search.test_chinese_search_contract import STUDENT
from tests.search.test_facet_counts_contract import shared_file  # noqa: F401  (fixture)
from tests.search.test_search_index_contract import EVERYONE, load

pytestmark = pytest.mark.anyio

_T0 = datetime(2026, 10, 1, tzinfo=UTC)
SORTS = ("relevance", "newest", "popular")


def at(minutes: int) -> datetime:
    return _T0 + timedelta(minutes=minutes)


def expected_order(documents: Sequence[SearchDocument], sort: str) -> list[str]:
    """Browsing order without text: newest first (relevance too), or most popular then newest; id last."""
    if sort == "popular":
        ranked = sorted(documents, key=lambda d: (-d.popularity, -d.created_at.timestamp(), d.id))
    else:
        ranked = sorted(documents, key=lambda d: (-d.created_at.timestamp(), d.id))
    return [document.id for document in ranked]


async def search(index: SearchIndex, text: str = "", **options: Any) -> SearchResult:
    access = options.pop("access", EVERYONE)
    return await index.search(SearchQuery(text=text, access=access, **options))


async def pages(index: SearchIndex, size: int, text: str = "", **options: Any) -> list[list[str]]:
    """Every page of `size` hits (of parents, grouped), as the hit ids with their `more` ids."""
    whole = await search(index, text, limit=100, **options)
    found: list[list[str]] = []
    for offset in range(0, whole.total + size, size):
        part = await search(index, text, offset=offset, limit=size, **options)
        assert part.total == whole.total
        found.extend([hit.id, *(other.id for other in hit.more)] for hit in part.hits)
    whole_shape = [[hit.id, *(other.id for other in hit.more)] for hit in whole.hits]
    assert found == whole_shape
    return found


def tied_documents() -> list[SearchDocument]:
    """Twelve resources at three moments and two popularities, ids not in time order; two of another
    subject, one private and one draft (which a student does not see)."""
    documents = [
        search_document(
            id=f"r{name}",
            title=f"口算练习 {name}",
            created_at=at(minutes),
            popularity=popularity,
        )
        for name, minutes, popularity in [
            ("k", 3, 1),
            ("b", 3, 1),
            ("x", 3, 0),
            ("a", 1, 5),
            ("m", 2, 5),
            ("c", 2, 0),
            ("z", 2, 5),
            ("d", 1, 0),
            ("y", 3, 5),
            ("e", 1, 1),
            ("f", 2, 1),
            ("g", 1, 5),
        ]
    ]
    documents += [
        search_document(id="s1", title="口算练习 s1", subject="数学", created_at=at(9)),
        search_document(id="s2", title="口算练习 s2", subject="数学", created_at=at(3), popularity=5),
        search_document(id="private", title="口算练习 p", visibility="private", created_at=at(8)),
        search_document(id="draft", title="口算练习 q", status="draft", created_at=at(8), popularity=9),
    ]
    return documents


@pytest.mark.parametrize("sort", SORTS)
async def test_browsing_pages_break_ties_by_id_in_every_order(search_index: SearchIndex, sort: str) -> None:
    documents = tied_documents()
    await load(search_index, *documents)
    readable = [d for d in documents if d.subject == "语文" and d.id not in ("private", "draft")]
    expected = expected_order(readable, sort)
    for size in (1, 3, 5, 100):
        found = await pages(search_index, size, sort=sort, filters={"subject": ["语文"]}, access=STUDENT)
        assert [ids[0] for ids in found] == expected, size
    # Grouped browsing (the API's) lists the same parents in the same order.
    grouped = await pages(
        search_index, 4, sort=sort, filters={"subject": ["语文"]}, access=STUDENT, group_by_parent=True
    )
    assert [ids[0] for ids in grouped] == expected


@pytest.mark.parametrize("sort", SORTS)
async def test_text_pages_with_equal_scores_break_ties_by_id(search_index: SearchIndex, sort: str) -> None:
    # Same title and body: the same score under relevance; then newest, then id.
    documents = [
        search_document(
            id=f"t{name}", title="分数的意义", body="分数 教学设计", created_at=at(m), popularity=p
        )
        for name, m, p in [("q", 1, 2), ("c", 2, 2), ("a", 1, 2), ("w", 2, 0), ("b", 1, 0), ("e", 2, 2)]
    ]
    await load(search_index, *documents, search_document(id="other", title="识字", body="识字"))
    expected = expected_order(documents, sort)
    for size in (1, 2, 4):
        assert [ids[0] for ids in await pages(search_index, size, "分数", sort=sort)] == expected
        grouped = await pages(search_index, size, "分数", sort=sort, group_by_parent=True)
        assert [ids[0] for ids in grouped] == expected


@pytest.mark.parametrize("sort", SORTS)
async def test_grouped_pages_carry_each_parents_next_documents(search_index: SearchIndex, sort: str) -> None:
    documents: list[SearchDocument] = []
    for number in range(7):
        parent = f"p{number}"
        documents.append(
            search_document(
                id=parent, title=f"圆的面积 {number}", created_at=at(number % 3), popularity=number % 2
            )
        )
        documents += [
            search_document(
                id=f"{parent}/page/{page}",
                parent_id=parent,
                kind=DocKind.file_page,
                title=f"圆的面积 {number}",
                body=f"第{page}页 圆的面积公式",
                page=page,
                created_at=at(number % 3),
                popularity=number % 2,
            )
            for page in (1, 2)
        ]
    await load(search_index, *documents)
    found = await pages(search_index, 3, "面积", sort=sort, group_by_parent=True)
    assert sorted(ids[0].split("/")[0] for ids in found) == [f"p{n}" for n in range(7)]
    assert all(len(ids) == 3 for ids in found)


@pytest.mark.parametrize("sort", SORTS)
async def test_pages_follow_updates_and_deletes_between_queries(search_index: SearchIndex, sort: str) -> None:
    documents = tied_documents()
    await load(search_index, *documents)
    first = await pages(search_index, 3, sort=sort, filters={"subject": ["语文"]})
    assert [ids[0] for ids in first] == expected_order([d for d in documents if d.subject == "语文"], sort)

    # Newer and more popular, moved to another subject, deleted; a new one written.
    changed = {
        "rd": search_document(id="rd", title="口算练习 d", created_at=at(7), popularity=7),
        "ry": search_document(id="ry", title="口算练习 y", subject="数学", created_at=at(3), popularity=5),
        "rn": search_document(id="rn", title="口算练习 n", created_at=at(2), popularity=5),
    }
    await load(search_index, *changed.values())
    await search_index.delete(["rk", "s2"])
    await search_index.refresh()
    now = [changed.get(d.id, d) for d in documents if d.id not in ("rk", "s2")] + [changed["rn"]]
    for subject in ("语文", "数学"):
        kept = [d for d in now if d.subject == subject]
        found = await pages(search_index, 3, sort=sort, filters={"subject": [subject]})
        assert [ids[0] for ids in found] == expected_order(kept, sort), subject
        texts = await pages(search_index, 2, "口算", sort="newest", filters={"subject": [subject]})
        assert [ids[0] for ids in texts] == expected_order(kept, "newest"), subject


async def test_embedded_pages_follow_another_process_writes(
    shared_file: tuple[EmbeddedSearchIndex, EmbeddedSearchIndex],  # noqa: F811
) -> None:
    reader, writer = shared_file
    await load(
        writer, *(search_document(id=f"r{n}", title="口算", created_at=at(n), popularity=n) for n in range(5))
    )
    assert [ids[0] for ids in await pages(reader, 2, sort="popular")] == ["r4", "r3", "r2", "r1", "r0"]
    await load(writer, search_document(id="r0", title="口算", created_at=at(0), popularity=50))
    await writer.delete(["r3"])
    assert [ids[0] for ids in await pages(reader, 2, sort="popular")] == ["r0", "r4", "r2", "r1"]
    assert [ids[0] for ids in await pages(reader, 2, "口算", sort="newest")] == ["r4", "r2", "r1", "r0"]
