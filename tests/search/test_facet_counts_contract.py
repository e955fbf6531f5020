"""Totals and facet counts stay exact as documents change, for every reader, on both backends.

The embedded index counts on bitmaps it keeps in memory and updates from a change log (search.bitmaps):
these tests search first (so the bitmaps are loaded), then change documents, and count again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from search import bitmaps
from search.documents import AccessFilter, DocKind, SearchDocument, SearchQuery, SearchResult
from search.embedded import EmbeddedSearchIndex
from search.index import SearchIndex
from tests.factories import search_document

pytestmark = pytest.mark.anyio

EVERYONE = AccessFilter(see_everything=True)
FACETS = ["subject", "grade", "tags", "kind", "school_id"]


async def load(index: SearchIndex, *documents: SearchDocument) -> None:
    await index.upsert(list(documents))
    await index.refresh()


async def counted(
    index: SearchIndex, text: str = "", access: AccessFilter = EVERYONE, **options: object
) -> SearchResult:
    return await index.search(SearchQuery(text=text, access=access, facets=FACETS, **options))


def facet(result: SearchResult, name: str) -> dict[str, int]:
    return {value.value: value.count for value in result.facets[name]}


def lesson(id: str, **overrides: object) -> SearchDocument:
    return search_document(id=id, title=f"分数的意义 {id}", body="分数 教学设计", **overrides)


def page(parent: str, number: int, **overrides: object) -> SearchDocument:
    return search_document(
        id=f"{parent}/page/{number}",
        parent_id=parent,
        kind=DocKind.file_page,
        title=f"分数的意义 {parent}",
        body=f"第{number}页 分数的读法",
        page=number,
        **overrides,
    )


async def test_counts_follow_updates_and_deletes(search_index: SearchIndex) -> None:
    await load(
        search_index,
        lesson("a", subject="数学", tags=["新课标"]),
        page("a", 1, subject="数学", tags=["新课标"]),
        page("a", 2, subject="数学", tags=["新课标"]),
        lesson("b", subject="数学", grade="3"),
        lesson("c", subject="语文", tags=["新课标", "公开课"]),
    )
    before = await counted(search_index, "分数", group_by_parent=True)
    assert before.total == 3
    assert facet(before, "subject") == {"数学": 2, "语文": 1}
    assert facet(before, "kind") == {"resource": 3, "file_page": 1}

    # A subject changed everywhere, a page gone, a resource deleted, a tag added.
    await load(
        search_index,
        lesson("a", subject="语文", tags=["新课标", "公开课"]),
        page("a", 1, subject="语文", tags=["新课标", "公开课"]),
    )
    await search_index.delete_by_parent(["a"], keep=["a", "a/page/1"])
    await search_index.delete(["b"])
    await search_index.refresh()
    grouped = await counted(search_index, "分数", group_by_parent=True)
    assert grouped.total == 2
    assert facet(grouped, "subject") == {"语文": 2}
    assert facet(grouped, "tags") == {"新课标": 2, "公开课": 2}
    assert facet(grouped, "kind") == {"resource": 2, "file_page": 1}
    plain = await counted(search_index, "分数")
    assert plain.total == 3
    assert facet(plain, "subject") == {"语文": 3}
    assert facet(plain, "grade") == {"2": 3}

    # Written again as it was: counted again.
    await load(search_index, lesson("b", subject="数学", grade="3"))
    browsing = await counted(search_index, group_by_parent=True)
    assert browsing.total == 3
    assert facet(browsing, "subject") == {"语文": 2, "数学": 1}
    assert facet(browsing, "grade") == {"2": 2, "3": 1}
    assert facet(browsing, "kind") == {"resource": 3, "file_page": 1}


async def test_counts_follow_visibility_changes_for_every_reader(search_index: SearchIndex) -> None:
    readers = {
        "guest": AccessFilter(published_visibilities=frozenset({"public"})),
        "student at a": AccessFilter(
            user_id="student-a",
            school_id="school-a",
            published_visibilities=frozenset({"public", "district"}),
        ),
        "owner": AccessFilter(
            user_id="teacher-a",
            school_id="school-a",
            published_visibilities=frozenset({"public", "district"}),
        ),
        "school admin at a": AccessFilter(
            user_id="admin-a",
            school_id="school-a",
            whole_school=True,
            published_visibilities=frozenset({"public", "district"}),
        ),
        "research lead": AccessFilter(
            user_id="lead", published_visibilities=frozenset({"public", "district", "school"})
        ),
        "district admin": AccessFilter(
            user_id="admin",
            whole_district=True,
            published_visibilities=frozenset({"public", "district", "school"}),
        ),
    }
    documents = [
        lesson("public", visibility="public"),
        lesson("district", visibility="district", school_id="school-b"),
        lesson("school a", visibility="school"),
        lesson("school b", visibility="school", school_id="school-b", owner_id="teacher-b"),
        lesson("private", visibility="private"),
        lesson("draft", visibility="public", status="draft"),
    ]
    await load(search_index, *documents)
    sees = {
        "guest": {"public"},
        "student at a": {"public", "district", "school a"},
        "owner": {"public", "district", "school a", "private", "draft"},
        "school admin at a": {"public", "district", "school a", "draft"},
        "research lead": {"public", "district", "school a", "school b"},
        "district admin": {"public", "district", "school a", "school b", "draft"},
    }
    for reader, access in readers.items():
        result = await counted(search_index, "分数", access=access, group_by_parent=True, limit=20)
        assert {hit.id for hit in result.hits} == sees[reader], reader
        assert result.total == len(sees[reader]), reader
        assert sum(facet(result, "kind").values()) == len(sees[reader]), reader

    # The private one becomes public, the public one private: every reader's counts follow.
    await load(search_index, lesson("private", visibility="public"), lesson("public", visibility="private"))
    for reader, access in readers.items():
        # The owner still sees both; everyone else now sees "private" where they saw "public".
        expected = (
            sees[reader]
            if reader == "owner"
            else {"private" if name == "public" else name for name in sees[reader]}
        )
        result = await counted(search_index, "分数", access=access, group_by_parent=True)
        assert result.total == len(expected), reader
        in_b = len(expected & {"district", "school b"})
        assert facet(result, "school_id") == {
            school: count
            for school, count in (("school-a", len(expected) - in_b), ("school-b", in_b))
            if count
        }, reader


@pytest.fixture
async def shared_file(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedSearchIndex, EmbeddedSearchIndex]]:
    """Two embedded indexes on one file: a reading process and another that writes (a worker)."""
    reader = EmbeddedSearchIndex(tmp_path / "search.db")
    writer = EmbeddedSearchIndex(tmp_path / "search.db")
    await reader.ensure_ready()
    await writer.ensure_ready()
    try:
        yield reader, writer
    finally:
        await reader.close()
        await writer.close()


async def test_embedded_counts_follow_writes_of_another_process(
    shared_file: tuple[EmbeddedSearchIndex, EmbeddedSearchIndex],
) -> None:
    reader, writer = shared_file
    await load(writer, lesson("a", subject="数学"), lesson("b", subject="数学"))
    assert facet(await counted(reader, "分数"), "subject") == {"数学": 2}
    await load(writer, lesson("b", subject="语文"), lesson("c", subject="英语"))
    await writer.delete(["a"])
    result = await counted(reader, "分数")
    assert result.total == 2
    assert facet(result, "subject") == {"语文": 1, "英语": 1}


async def test_embedded_counts_after_another_process_rebuilds(
    shared_file: tuple[EmbeddedSearchIndex, EmbeddedSearchIndex],
) -> None:
    reader, writer = shared_file
    await load(writer, lesson("a", subject="数学"))
    assert (await counted(reader, "分数")).total == 1

    async def batches() -> AsyncIterator[list[SearchDocument]]:
        yield [lesson("x", subject="语文"), lesson("y", subject="语文")]

    await writer.rebuild(batches())
    result = await counted(reader, "分数")
    assert result.total == 2
    assert facet(result, "subject") == {"语文": 2}


async def test_embedded_reader_far_behind_a_trimmed_change_log_loads_again(
    shared_file: tuple[EmbeddedSearchIndex, EmbeddedSearchIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = shared_file
    monkeypatch.setattr(bitmaps, "CHANGES_KEPT", 2)
    await load(writer, lesson("a", subject="数学"))
    assert (await counted(reader, "分数")).total == 1
    for number in range(5):
        await load(writer, lesson(f"n{number}", subject="语文"))
    result = await counted(reader, "分数")
    assert result.total == 6
    assert facet(result, "subject") == {"语文": 5, "数学": 1}


async def test_embedded_counts_after_the_index_file_is_dropped_and_made_again(tmp_path: Path) -> None:
    index = EmbeddedSearchIndex(tmp_path / "search.db")
    await index.ensure_ready()
    try:
        await load(index, *(lesson(name, subject="数学") for name in "abc"))
        assert (await counted(index, "分数")).total == 3
        await index.drop_all()
        await index.ensure_ready()
        await load(index, lesson("d", subject="语文"))
        result = await counted(index, "分数")
        assert result.total == 1
        assert facet(result, "subject") == {"语文": 1}
    finally:
        await index.close()
