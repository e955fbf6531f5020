"""Grouping by parent, on every SearchIndex: one hit per resource, its other matches in `more`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from search.documents import (
    MORE_CANDIDATES,
    MORE_PER_HIT,
    AccessFilter,
    DocKind,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from search.index import SearchIndex
from tests.factories import search_document
from tests.search.test_chinese_search_contract import STUDENT
from tests.search.test_search_index_contract import EVERYONE, load

pytestmark = pytest.mark.anyio

_T0 = datetime(2026, 10, 1, tzinfo=UTC)


async def grouped(index: SearchIndex, text: str = "", **options: Any) -> SearchResult:
    access = options.pop("access", EVERYONE)
    return await index.search(SearchQuery(text=text, access=access, group_by_parent=True, **options))


def shape(result: SearchResult) -> list[tuple[str, list[str]]]:
    """Each hit's id with the ids of its `more`."""
    return [(hit.id, [other.id for other in hit.more]) for hit in result.hits]


def counts(result: SearchResult, field: str) -> list[tuple[str, int]]:
    return [(value.value, value.count) for value in result.facets[field]]


def page(parent: str, number: int, body: str, title: str = "课件", **overrides: Any) -> SearchDocument:
    return search_document(
        id=f"{parent}:p{number}",
        parent_id=parent,
        kind=DocKind.file_page,
        title=title,
        body=body,
        page=number,
        **overrides,
    )


async def test_one_hit_per_parent_with_its_next_matches_in_more(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="r", title="小蝌蚪找妈妈"),
        page("r", 1, "", title="小蝌蚪找妈妈 课件"),
        page("r", 2, "", title="找妈妈的小蝌蚪"),
        search_document(
            id="r:c1",
            parent_id="r",
            kind=DocKind.video_cue,
            title="课例",
            body="老师说：小蝌蚪找妈妈的故事",
            start_s=42.0,
            end_s=45.0,
        ),
        page("r", 3, "小蝌蚪 在 池塘里 找 它的 妈妈"),
        search_document(id="s", title="青蛙的一生"),
        page("s", 1, "第三页 小蝌蚪找妈妈", title="青蛙的一生"),
        search_document(id="t", title="小蝌蚪找妈妈 教案"),
        search_document(id="u", title="乌鸦喝水"),
    )
    flat = await search_index.search(SearchQuery(text="小蝌蚪找妈妈", access=EVERYONE))
    assert flat.total == 7 and len(flat.hits) == 7
    assert all(hit.more == [] for hit in flat.hits)

    result = await grouped(search_index, "小蝌蚪找妈妈", facets=["kind"])
    # The best document of each parent by tier; in `more`, the parent's next ones whose own text
    # matched, best first (r:p1 and r:p2 match only by the title they carry: nothing to add).
    assert shape(result) == [("r", ["r:c1", "r:p3"]), ("t", []), ("s:p1", [])]
    assert result.total == 3
    assert counts(result, "kind") == [("file_page", 2), ("resource", 2), ("video_cue", 1)]
    first = result.hits[0]
    assert first.highlights == {"title": "<em>小蝌蚪找妈妈</em>"}
    assert all(other.score <= first.score and other.more == [] for other in first.more)
    cue = first.more[0]
    assert (cue.kind, cue.parent_id, cue.document.start_s) == (DocKind.video_cue, "r", 42.0)
    assert cue.highlights == {"body": "老师说：<em>小蝌蚪找妈妈</em>的故事"}
    assert result.hits[2].document.page == 1

    # Among the requested kinds only: a page or a cue is then the hit itself.
    pages = await grouped(search_index, "小蝌蚪找妈妈", kinds=[DocKind.file_page])
    assert shape(pages) == [("r:p1", ["r:p3"]), ("s:p1", [])]
    assert pages.hits[0].document.page == 1
    cues = await grouped(search_index, "小蝌蚪找妈妈", kinds=[DocKind.video_cue])
    assert shape(cues) == [("r:c1", [])]
    assert cues.hits[0].document.start_s == 42.0


async def test_a_resource_found_by_its_title_is_the_hit_not_a_page_carrying_that_title(
    search_index: SearchIndex,
) -> None:
    # As the indexer writes them: pages and cues carry their resource's title, so all match "喜鹊"
    # in the same tier as the resource itself, and shorter bodies have the higher BM25.
    await load(
        search_index,
        search_document(id="r", title="树和喜鹊", body="第一课时 教学设计：识字、写字、朗读课文、背诵"),
        page("r", 1, "喜鹊", title="树和喜鹊"),
        page("r", 2, "拼音练习", title="树和喜鹊"),
        search_document(
            id="r:c1", parent_id="r", kind=DocKind.video_cue, title="树和喜鹊", body="同学们好", start_s=1.0
        ),
        search_document(id="s", title="喜鹊"),
        search_document(id="q", title="识字 一"),
        page("q", 1, "树上有喜鹊", title="识字 一"),
    )
    result = await grouped(search_index, "喜鹊")
    assert [hit.id for hit in result.hits] == ["s", "r", "q:p1"]
    # Only the page whose text has 喜鹊 is worth listing; the others carry just the title.
    assert [other.id for other in result.hits[1].more] == ["r:p1"]
    # Without the parent's own document among the requested kinds, its best page or cue is the hit.
    inside = await grouped(search_index, "喜鹊", kinds=[DocKind.file_page, DocKind.video_cue])
    assert sorted(hit.parent_id for hit in inside.hits) == ["q", "r"]
    assert all(hit.kind != DocKind.resource for hit in inside.hits)
    assert [(hit.id, hit.more) for hit in inside.hits if hit.parent_id == "r"] == [("r:p1", [])]


async def test_totals_and_facets_count_parents(search_index: SearchIndex) -> None:
    a = {"subject": "语文", "tags": ["公开课", "图形"]}
    c = {"subject": "数学", "grade": "1"}
    await load(
        search_index,
        search_document(id="a", title="认识图形", **a),
        *[page("a", n, f"第{n}页 图形", title="认识图形", **a) for n in (1, 2, 3)],
        search_document(id="b", title="图形的拼组", subject="语文", tags=["图形"]),
        search_document(id="c", title="七巧板", **c),
        *[page("c", n, f"拼出图形 {n}", title="七巧板", **c) for n in (1, 2)],
        search_document(id="d", title="口算", subject="数学"),
    )
    facets = ["subject", "kind", "tags", "grade"]
    flat = await search_index.search(SearchQuery(text="图形", access=EVERYONE, facets=facets))
    assert flat.total == 7
    assert counts(flat, "subject") == [("语文", 5), ("数学", 2)]

    result = await grouped(search_index, "图形", facets=facets)
    assert result.total == 3
    assert sorted(hit.parent_id for hit in result.hits) == ["a", "b", "c"]
    assert counts(result, "subject") == [("语文", 2), ("数学", 1)]
    assert counts(result, "kind") == [("file_page", 2), ("resource", 2)]
    assert counts(result, "tags") == [("图形", 2), ("公开课", 1)]
    assert counts(result, "grade") == [("2", 2), ("1", 1)]

    maths = await grouped(search_index, "图形", filters={"subject": ["数学"]}, facets=["subject"])
    assert maths.total == 1
    assert [(hit.parent_id, hit.kind, len(hit.more)) for hit in maths.hits] == [("c", DocKind.file_page, 1)]
    # Multi-select: a facet counts under every filter but its own.
    assert counts(maths, "subject") == [("语文", 2), ("数学", 1)]

    resources = await grouped(search_index, "图形", kinds=[DocKind.resource], facets=["kind", "subject"])
    assert resources.total == 2
    assert counts(resources, "kind") == [("file_page", 2), ("resource", 2)]
    assert counts(resources, "subject") == [("语文", 2)]

    # Without text every document matches: parents are still counted once.
    everything = await grouped(search_index, facets=["subject"])
    assert everything.total == 4
    assert counts(everything, "subject") == [("数学", 2), ("语文", 2)]


@pytest.mark.parametrize("sort", ["relevance", "newest", "popular"])
async def test_pages_of_parents_are_stable_and_never_repeat_a_parent(
    search_index: SearchIndex, sort: str
) -> None:
    documents = []
    for n in range(9):
        parent = f"p{n}"
        documents.append(search_document(id=parent, title=f"口算练习 {n}", popularity=n % 3))
        documents.extend(page(parent, k, f"口算 第{k}页", popularity=n % 3) for k in (1, 2))
    await load(search_index, *documents)

    for text in ("口算", ""):
        whole = await grouped(search_index, text, sort=sort, limit=100)
        assert whole.total == 9
        parents = [hit.parent_id for hit in whole.hits]
        assert sorted(parents) == [f"p{n}" for n in range(9)]
        paged: list[str] = []
        for offset in range(0, 10, 2):
            part = await grouped(search_index, text, sort=sort, offset=offset, limit=2)
            assert part.total == 9
            paged.extend(hit.parent_id for hit in part.hits)
            assert shape(part) == shape(whole)[offset : offset + 2]
        assert paged == parents
        assert (await grouped(search_index, text, sort=sort, offset=9, limit=2)).hits == []
    # Ranked, each resource's title beats its pages; both pages follow in `more`.
    ranked = await grouped(search_index, "口算", sort=sort, limit=100)
    if sort == "relevance":
        assert all(hit.kind == DocKind.resource and len(hit.more) == 2 for hit in ranked.hits)
    else:
        assert all(len(hit.more) == 2 for hit in ranked.hits)


async def test_newest_and_popular_pick_and_order_by_each_parents_best_document(
    search_index: SearchIndex,
) -> None:
    def at(minutes: int) -> datetime:
        return _T0 + timedelta(minutes=minutes)

    await load(
        search_index,
        search_document(id="a", title="口算 一", created_at=at(1), popularity=1),
        page("a", 1, "口算", created_at=at(5), popularity=1),
        search_document(id="b", title="口算 二", created_at=at(3), popularity=5),
        search_document(id="c", title="口算 三", created_at=at(2), popularity=0),
        page("c", 1, "口算", created_at=at(4), popularity=9),
        search_document(id="z", title="识字", created_at=at(9), popularity=99),
    )
    assert shape(await grouped(search_index, "口算", sort="newest")) == [
        ("a:p1", ["a"]),
        ("c:p1", ["c"]),
        ("b", []),
    ]
    # Equal popularity falls back to newest first, inside a parent too.
    assert shape(await grouped(search_index, "口算", sort="popular")) == [
        ("c:p1", ["c"]),
        ("b", []),
        ("a:p1", ["a"]),
    ]
    # Browsing without text lists the parents themselves, by their own documents.
    assert shape(await grouped(search_index, sort="popular")) == [("z", []), ("b", []), ("a", []), ("c", [])]
    paged = await grouped(search_index, "口算", sort="popular", offset=1, limit=1)
    assert (paged.total, shape(paged)) == (3, [("b", [])])


async def test_access_rules_hold_for_every_document_of_a_group(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="r", title="光合作用"),
        page("r", 1, "光合作用 草稿页", status="draft", owner_id="t-b", school_id="school-b"),
        page("r", 2, "光合作用 外校页", visibility="school", school_id="school-b", owner_id="t-b"),
        page("r", 3, "光合作用 公开页"),
        page("r", 4, "光合作用 私有页", visibility="private", owner_id="t-b", school_id="school-b"),
        search_document(id="d", title="光合作用 草稿", status="draft", owner_id="t-b", school_id="school-b"),
        page("d", 1, "光合作用", status="draft", owner_id="t-b", school_id="school-b"),
        search_document(
            id="o", title="光合作用 外校", visibility="school", school_id="school-b", owner_id="t-b"
        ),
    )
    facets = ["kind", "school_id"]
    for reader in (STUDENT, AccessFilter()):
        result = await grouped(search_index, "光合作用", access=reader, facets=facets)
        assert shape(result) == [("r", ["r:p3"])]
        assert result.total == 1
        assert counts(result, "kind") == [("file_page", 1), ("resource", 1)]
        assert counts(result, "school_id") == [("school-a", 1)]
        pages = await grouped(search_index, "光合作用", access=reader, kinds=[DocKind.file_page])
        assert shape(pages) == [("r:p3", [])]

    owner = AccessFilter(user_id="t-b", school_id="school-b")
    result = await grouped(search_index, "光合作用", access=owner, facets=facets)
    assert result.total == 3
    assert sorted(hit.parent_id for hit in result.hits) == ["d", "o", "r"]
    (mine,) = [hit for hit in result.hits if hit.parent_id == "r"]
    assert mine.id == "r" and len(mine.more) == 3
    assert {other.id for other in mine.more} < {"r:p1", "r:p2", "r:p3", "r:p4"}
    assert counts(result, "kind") == [("resource", 3), ("file_page", 2)]


def same_hits(found: list[SearchHit], expected: list[SearchHit]) -> bool:
    """The same documents in the same order with the same scores (up to the last float32 bit: a score
    summed from other clauses in another order may differ there)."""
    return [hit.id for hit in found] == [hit.id for hit in expected] and [
        hit.score for hit in found
    ] == pytest.approx([hit.score for hit in expected], abs=0.02)


@pytest.mark.parametrize("sort", ["relevance", "newest", "popular"])
async def test_more_of_a_parent_with_many_matches_is_its_next_best_documents_on_every_page(
    search_index: SearchIndex, sort: str
) -> None:
    # "big" has more matching documents than are read for `more` (MORE_CANDIDATES), two of them
    # matching by the title they carry only; "small" and "solo" share the page with it.
    def at(minutes: int) -> datetime:
        return _T0 + timedelta(minutes=minutes)

    documents = [search_document(id="big", title="口算练习", created_at=at(0))]
    documents += [
        page("big", k, f"口算 第{k}页" + " 加法" * (k % 4), title="口算练习", created_at=at(k), popularity=k)
        for k in range(1, MORE_CANDIDATES + 6)
    ]
    documents += [
        page("big", k, "乘法", title="口算练习", created_at=at(k), popularity=k)
        for k in (MORE_CANDIDATES + 6, MORE_CANDIDATES + 7)
    ]
    documents += [
        search_document(id="small", title="口算 小册", created_at=at(30), popularity=3),
        page("small", 1, "口算 小题", created_at=at(31), popularity=1),
        search_document(id="solo", title="口算 单页", created_at=at(40), popularity=2),
    ]
    await load(search_index, *documents)

    whole = await grouped(search_index, "口算", sort=sort)
    assert whole.total == 3 and sorted(hit.parent_id for hit in whole.hits) == ["big", "small", "solo"]
    # Each hit's `more`: its parent's next documents in the ungrouped order whose own text matched,
    # with the scores they have there (grouping adds nothing to a page's score).
    flat = await search_index.search(SearchQuery(text="口算", access=EVERYONE, sort=sort, limit=100))
    for hit in whole.hits:
        expected = [
            other
            for other in flat.hits
            if other.parent_id == hit.parent_id
            and other.id != hit.id
            and (other.kind == DocKind.resource or "body" in other.highlights)
        ][:MORE_PER_HIT]
        assert same_hits(hit.more, expected)
        assert all("body" in other.highlights or other.kind == DocKind.resource for other in hit.more)
    (big,) = [hit for hit in whole.hits if hit.parent_id == "big"]
    assert len(big.more) == MORE_PER_HIT
    # A page of one hit carries the same `more` as the whole list does at that place.
    for offset in range(3):
        part = await grouped(search_index, "口算", sort=sort, offset=offset, limit=1)
        assert len(part.hits) == 1 and same_hits(part.hits, whole.hits[offset : offset + 1])
        assert same_hits(part.hits[0].more, whole.hits[offset].more)


async def test_parents_matching_once_each_have_no_more_and_one_further_match_shows(
    search_index: SearchIndex,
) -> None:
    await load(
        search_index,
        *(search_document(id=f"r{n}", title=f"燕子 第{n}课") for n in range(4)),
        page("r0", 1, "春天 到了", title="课件"),
    )
    once = await grouped(search_index, "燕子", facets=["kind"])
    assert once.total == 4 and all(hit.more == [] for hit in once.hits)
    assert counts(once, "kind") == [("resource", 4)]
    # One parent matching twice among parents matching once still gets its `more`.
    await load(search_index, page("r3", 1, "燕子 飞回来了", title="课件"))
    twice = await grouped(search_index, "燕子")
    assert twice.total == 4 and shape(twice)[0] == ("r3", ["r3:p1"])
    assert all(more == [] for _, more in shape(twice)[1:])
