"""One contract for every SearchIndex: the embedded FTS5 index and Elasticsearch must agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from search.documents import AccessFilter, DocKind, SearchDocument, SearchQuery
from search.index import SearchIndex
from tests.factories import search_document

pytestmark = pytest.mark.anyio

EVERYONE = AccessFilter(see_everything=True)


async def load(index: SearchIndex, *documents: SearchDocument) -> None:
    await index.upsert(list(documents))
    await index.refresh()


async def ids(index: SearchIndex, text: str = "", **options: object) -> list[str]:
    query = SearchQuery(text=text, access=options.pop("access", EVERYONE), **options)
    return [hit.id for hit in (await index.search(query)).hits]


async def test_finds_a_word_inside_a_title(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="a", title="树和喜鹊 第一课时"),
        search_document(id="b", title="小蝌蚪找妈妈"),
    )
    assert await ids(search_index, "喜鹊") == ["a"]
    assert await ids(search_index, "蝌蚪") == ["b"]
    assert await ids(search_index, "恐龙") == []


async def test_single_characters_and_latin_match(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="a", title="认识钟表 Unit 3"),
        search_document(id="b", title="小数的加法"),
    )
    assert await ids(search_index, "钟") == ["a"]
    assert await ids(search_index, "unit") == ["a"]
    assert await ids(search_index, "ＵＮＩＴ 3") == ["a"]


async def test_exact_title_ranks_first(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(
            id="long", title="拓展阅读：望庐山瀑布与其他唐诗", body="李白 望庐山瀑布 赏析 与 拓展"
        ),
        search_document(id="exact", title="望庐山瀑布"),
        search_document(id="body", title="古诗三首", body="本课包括 望庐山瀑布 等古诗"),
    )
    found = await ids(search_index, "望庐山瀑布")
    assert found[0] == "exact"
    assert set(found) == {"exact", "long", "body"}


async def test_phrase_inside_a_body(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(
            id="page",
            kind=DocKind.file_page,
            parent_id="r1",
            title="教案",
            body="第二环节：小组合作探究光合作用的条件",
            page=3,
        ),
        search_document(id="other", title="光的反射"),
    )
    result = await search_index.search(SearchQuery(text="合作探究", access=EVERYONE))
    assert [hit.id for hit in result.hits] == ["page"]
    assert result.hits[0].document.page == 3
    assert result.hits[0].parent_id == "r1"


async def test_subtitle_cue_keeps_its_time(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(
            id="cue",
            kind=DocKind.video_cue,
            parent_id="video",
            title="课例",
            body="同学们请看黑板上的板书",
            start_s=754.5,
            end_s=759.0,
        ),
    )
    (hit,) = (await search_index.search(SearchQuery(text="板书", access=EVERYONE))).hits
    assert (hit.kind, hit.document.start_s, hit.document.end_s) == (DocKind.video_cue, 754.5, 759.0)


async def test_filters_and_facets(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="m1", title="认识图形 课件", subject="数学", grade="1", tags=["图形", "公开课"]),
        search_document(id="m2", title="图形的运动", subject="数学", grade="2", tags=["图形"]),
        search_document(id="y1", title="看图写话 图形", subject="语文", grade="2", tags=["写话"]),
        search_document(id="y2", title="古诗两首", subject="语文", grade="2"),
    )
    result = await search_index.search(
        SearchQuery(text="图形", access=EVERYONE, facets=["subject", "grade", "tags"])
    )
    assert result.total == 3
    assert [(f.value, f.count) for f in result.facets["subject"]] == [("数学", 2), ("语文", 1)]
    assert [(f.value, f.count) for f in result.facets["grade"]] == [("2", 2), ("1", 1)]
    assert [(f.value, f.count) for f in result.facets["tags"]] == [("图形", 2), ("公开课", 1), ("写话", 1)]

    filtered = await search_index.search(
        SearchQuery(text="图形", access=EVERYONE, filters={"grade": ["2"]}, facets=["subject"])
    )
    assert sorted(hit.id for hit in filtered.hits) == ["m2", "y1"]
    assert [(f.value, f.count) for f in filtered.facets["subject"]] == [("数学", 1), ("语文", 1)]
    assert await ids(search_index, filters={"tags": ["公开课"]}) == ["m1"]
    assert sorted(await ids(search_index, filters={"subject": ["语文"], "grade": ["2", "3"]})) == ["y1", "y2"]


async def test_facets_are_multi_select(search_index: SearchIndex) -> None:
    """A facet is counted under every filter but its own, so its other values stay choosable."""
    await load(
        search_index,
        search_document(id="m1", title="认识图形", subject="数学", grade="1", tags=["图形"]),
        search_document(id="m2", title="图形的运动", subject="数学", grade="2", tags=["图形"]),
        search_document(id="y1", title="看图写话 图形", subject="语文", grade="2", tags=["写话"]),
        search_document(id="e1", title="Shapes 图形", subject="英语", grade="3"),
        search_document(id="p1", title="图形", subject="数学", grade="2", kind=DocKind.file_page, page=1),
    )
    facets = ["subject", "grade", "tags", "kind"]
    result = await search_index.search(
        SearchQuery(
            text="图形",
            access=EVERYONE,
            filters={"subject": ["数学"], "grade": ["2"]},
            kinds=[DocKind.resource],
            facets=facets,
        )
    )
    assert [hit.id for hit in result.hits] == ["m2"]
    counted = {field: [(f.value, f.count) for f in result.facets[field]] for field in facets}
    # subject: under grade=2 and kind=resource, not under subject=数学.
    assert counted["subject"] == [("数学", 1), ("语文", 1)]
    # grade: under subject=数学 and kind=resource.
    assert counted["grade"] == [("1", 1), ("2", 1)]
    # tags has no filter of its own: counted under all of them.
    assert counted["tags"] == [("图形", 1)]
    # kind: under subject=数学 and grade=2, not under kinds.
    assert counted["kind"] == [("file_page", 1), ("resource", 1)]
    # Access still holds for facets counted outside the main query.
    nobody = AccessFilter(user_id="stranger", school_id="elsewhere", published_visibilities=frozenset())
    hidden = await search_index.search(
        SearchQuery(text="图形", access=nobody, filters={"subject": ["数学"]}, facets=["subject"])
    )
    assert hidden.total == 0 and hidden.facets["subject"] == []


async def test_access_rules_hold_inside_the_query(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="public", title="公开 资源"),
        search_document(id="district", title="区级 资源", visibility="district"),
        search_document(id="own-school", title="本校 资源", visibility="school", school_id="school-a"),
        search_document(
            id="other-school", title="外校 资源", visibility="school", school_id="school-b", owner_id="t-b"
        ),
        search_document(
            id="private", title="私有 资源", visibility="private", owner_id="t-b", school_id="school-b"
        ),
        search_document(id="draft", title="草稿 资源", status="draft", owner_id="t-b", school_id="school-b"),
        search_document(
            id="my-draft", title="我的 草稿 资源", status="draft", owner_id="student-1", visibility="private"
        ),
    )
    student = AccessFilter(
        user_id="student-1", school_id="school-a", published_visibilities=frozenset({"public", "district"})
    )
    result = await search_index.search(SearchQuery(text="资源", access=student, facets=["school_id"]))
    assert sorted(hit.id for hit in result.hits) == ["district", "my-draft", "own-school", "public"]
    assert result.total == 4
    assert sum(f.count for f in result.facets["school_id"]) == 4

    guest = AccessFilter()
    assert await ids(search_index, "资源", access=guest) == ["public"]

    owner = AccessFilter(user_id="t-b", school_id="school-b")
    assert sorted(await ids(search_index, "资源", access=owner)) == [
        "draft",
        "other-school",
        "private",
        "public",
    ]

    school_admin = AccessFilter(user_id="admin-b", school_id="school-b", whole_school=True)
    assert sorted(await ids(search_index, "资源", access=school_admin)) == [
        "draft",
        "other-school",
        "public",
    ]


async def test_sorting_and_paging(search_index: SearchIndex) -> None:
    await load(
        search_index,
        *[search_document(id=f"d{n}", title=f"口算练习 {n}", popularity=n % 3) for n in range(7)],
    )
    newest = await ids(search_index, "口算", sort="newest")
    assert newest == [f"d{n}" for n in range(6, -1, -1)]
    popular = await ids(search_index, sort="popular")
    assert popular[:2] == ["d5", "d2"]
    page = await search_index.search(
        SearchQuery(text="口算", access=EVERYONE, sort="newest", offset=2, limit=3)
    )
    assert page.total == 7
    assert [hit.id for hit in page.hits] == ["d4", "d3", "d2"]


async def test_upsert_replaces_and_delete_removes(search_index: SearchIndex) -> None:
    await load(search_index, search_document(id="a", title="旧标题"), search_document(id="b", title="另一个"))
    await load(search_index, search_document(id="a", title="新标题"))
    assert await ids(search_index, "旧标题") == []
    assert await ids(search_index, "新标题") == ["a"]
    assert await search_index.count() == 2
    await search_index.delete(["a", "missing"])
    await search_index.refresh()
    assert await search_index.count() == 1


async def test_delete_by_parent_removes_pages_and_cues(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="r", parent_id="r", title="课件"),
        search_document(
            id="r:p1", parent_id="r", kind=DocKind.file_page, title="课件", body="第一页", page=1
        ),
        search_document(
            id="r:p2", parent_id="r", kind=DocKind.file_page, title="课件", body="第二页", page=2
        ),
        search_document(id="s", parent_id="s", title="课件 二"),
    )
    await search_index.delete_by_parent(["r"])
    await search_index.refresh()
    assert await ids(search_index) == ["s"]


async def test_delete_by_parent_keeps_the_documents_a_refresh_wrote_again(search_index: SearchIndex) -> None:
    """A parent is refreshed by writing its documents first and then deleting only what they no longer
    include, so it never drops out of search while that happens."""
    await load(
        search_index,
        search_document(id="r", parent_id="r", title="课件"),
        search_document(
            id="r:p1", parent_id="r", kind=DocKind.file_page, title="课件", body="第一页", page=1
        ),
        search_document(
            id="r:p2", parent_id="r", kind=DocKind.file_page, title="课件", body="第二页", page=2
        ),
        search_document(id="s", parent_id="s", title="课件 二"),
    )
    await search_index.delete_by_parent(["r", "s"], keep=["r", "r:p2"])
    await search_index.refresh()
    assert sorted(await ids(search_index)) == ["r", "r:p2"]


def lesson(*pages: int) -> list[SearchDocument]:
    """Parent r (a resource) with these pages."""
    return [search_document(id="r", parent_id="r", title="课件")] + [
        search_document(
            id=f"r:p{page}",
            parent_id="r",
            kind=DocKind.file_page,
            title="课件",
            body=f"第{page}页",
            page=page,
        )
        for page in pages
    ]


async def test_replace_parents_is_visible_when_it_returns_and_removes_stale_children(
    search_index: SearchIndex,
) -> None:
    """The outbox drain's write. Each call follows the last at once, well inside Elasticsearch's refresh
    interval, and must still find the children the last one wrote; no refresh() in between."""
    await load(search_index, search_document(id="s", parent_id="s", title="课件 二"))
    await search_index.replace_parents(["r"], lesson(1, 2, 3))
    assert sorted(await ids(search_index)) == ["r", "r:p1", "r:p2", "r:p3", "s"]
    await search_index.replace_parents(["r"], lesson(2))
    assert sorted(await ids(search_index)) == ["r", "r:p2", "s"]
    await search_index.replace_parents(["r"], lesson(2, 4))
    await search_index.replace_parents(["r", "s"], [])
    assert await ids(search_index) == []
    assert await search_index.count() == 0


async def test_replace_parents_never_drops_the_parent_out_of_search(search_index: SearchIndex) -> None:
    await search_index.replace_parents(["r"], lesson(1, 2))
    seen: list[list[str]] = []
    replacing = asyncio.create_task(search_index.replace_parents(["r"], lesson(3)))
    while not replacing.done():
        seen.append(await ids(search_index, "课件"))
    await replacing
    assert all("r" in found for found in seen)
    assert sorted(await ids(search_index, "课件")) == ["r", "r:p3"]


async def test_replace_parents_during_a_rebuild_reaches_both_indexes(search_index: SearchIndex) -> None:
    await search_index.replace_parents(["r"], lesson(1, 2))

    async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
        yield lesson(1, 2)
        # A drain between two batches: the rebuild's own copy of the pages must go too.
        await search_index.replace_parents(["r"], lesson(2))
        yield [search_document(id="s", parent_id="s", title="课件 二")]

    await search_index.rebuild(batches())
    await search_index.refresh()
    assert sorted(await ids(search_index)) == ["r", "r:p2", "s"]


async def test_kind_filter(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="r", title="光合作用"),
        search_document(id="p", kind=DocKind.post, parent_id="t", title="光合作用 教学研讨"),
    )
    assert await ids(search_index, "光合作用", kinds=[DocKind.post]) == ["p"]


async def test_rebuild_swaps_in_a_new_index_and_keeps_concurrent_writes(search_index: SearchIndex) -> None:
    await load(search_index, search_document(id="stale", title="过时的资源"))

    async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
        yield [search_document(id="fresh-1", title="新的资源 一")]
        # A write arriving while the rebuild runs must survive the swap.
        await search_index.upsert([search_document(id="during", title="重建期间写入")])
        yield [search_document(id="fresh-2", title="新的资源 二")]

    assert await search_index.rebuild(batches()) == 2
    await search_index.refresh()
    assert sorted(await ids(search_index)) == ["during", "fresh-1", "fresh-2"]
    assert await search_index.count() == 3
    # The index stays writable after the swap.
    await load(search_index, search_document(id="after", title="之后"))
    assert await search_index.count() == 4


async def test_failed_rebuild_leaves_the_live_index_alone(search_index: SearchIndex) -> None:
    await load(search_index, search_document(id="keep", title="保留"))

    async def broken() -> AsyncIterator[Sequence[SearchDocument]]:
        yield [search_document(id="x", title="半途")]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        await search_index.rebuild(broken())
    assert await ids(search_index) == ["keep"]
    await load(search_index, search_document(id="next", title="继续"))
    assert sorted(await ids(search_index)) == ["keep", "next"]


async def test_queries_with_only_punctuation_or_operators_are_safe(search_index: SearchIndex) -> None:
    await load(search_index, search_document(id="a", title="AND OR NOT 测试"))
    for text in ['"', "*", "AND", "(", "title:x", "NEAR(a b)", "！？。", 'a" OR "b']:
        await search_index.search(SearchQuery(text=text, access=EVERYONE))


async def test_ranking_exact_then_title_phrase_then_title_words_then_body(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="body-apart", title="数学练习 二", body="小数的意义；加法的运算", popularity=9),
        search_document(id="body-phrase", title="数学练习 一", body="今天学习小数加法", popularity=8),
        search_document(id="title-words", title="加法与小数", popularity=7),
        search_document(id="title-phrase", title="小数加法 练习课", popularity=6),
        search_document(id="exact", title="小数加法"),
    )
    assert await ids(search_index, "小数加法") == [
        "exact",
        "title-phrase",
        "title-words",
        "body-phrase",
        "body-apart",
    ]
    # Spacing, punctuation, width and case do not stop an exact title match.
    assert (await ids(search_index, "小数 加法"))[0] == "exact"
    assert (await ids(search_index, "“小数加法”"))[0] == "exact"


async def test_a_phrase_ranks_above_the_same_words_apart(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="apart", title="教学反思", body="先合作交流，再自主探究，最后展示", popularity=5),
        search_document(id="phrase", title="教学反思", body="第二环节：小组合作探究光合作用的条件"),
        search_document(id="title-apart", title="合作学习与探究活动"),
        search_document(id="title-phrase", title="合作探究 课堂实录"),
    )
    assert await ids(search_index, "合作探究") == ["title-phrase", "title-apart", "phrase", "apart"]


async def test_a_pinyin_title_match_ranks_above_a_body_mention(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="body", title="课文朗读", body="shuhexique 是这篇课文的拼音", popularity=9),
        search_document(id="title", title="树和喜鹊"),
    )
    assert await ids(search_index, "shuhexique") == ["title", "body"]


async def test_newest_and_popular_ignore_relevance(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="exact", title="口算", popularity=1),
        search_document(id="phrase", title="口算 练习", popularity=5),
        search_document(id="body", title="数学", body="每天口算十道题", popularity=5),
        search_document(id="other", title="识字", popularity=50),
    )
    assert await ids(search_index, "口算") == ["exact", "phrase", "body"]
    assert await ids(search_index, "口算", sort="newest") == ["body", "phrase", "exact"]
    # Equal popularity falls back to newest first.
    assert await ids(search_index, "口算", sort="popular") == ["body", "phrase", "exact"]
    assert await ids(search_index, sort="popular") == ["other", "body", "phrase", "exact"]
    result = await search_index.search(
        SearchQuery(text="口算", access=EVERYONE, sort="popular", facets=["subject"])
    )
    assert result.total == 3
    assert [(f.value, f.count) for f in result.facets["subject"]] == [("语文", 3)]


async def test_a_write_larger_than_one_request_is_sent_in_parts(
    search_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("search.elastic.MAX_BULK_BYTES", 4_000)
    documents = [
        search_document(id=f"long-{n}", title=f"长文 {n}", body="课文朗读 " * 200) for n in range(12)
    ]
    await load(search_index, *documents)
    assert sorted(await ids(search_index, "课文朗读", limit=50)) == sorted(d.id for d in documents)
    await search_index.delete([d.id for d in documents[:6]])
    await search_index.refresh()
    assert sorted(await ids(search_index, "课文朗读", limit=50)) == sorted(d.id for d in documents[6:])
