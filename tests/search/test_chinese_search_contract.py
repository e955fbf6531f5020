"""Chinese-first search, on every SearchIndex: pinyin, synonyms, highlights and suggestions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from search.documents import AccessFilter, DocKind, SearchDocument, SearchQuery
from search.index import SearchIndex
from search.synonyms import default_synonym_groups, merge_groups
from tests.factories import search_document
from tests.search.test_search_index_contract import EVERYONE, ids, load

pytestmark = pytest.mark.anyio

SYNONYMS = default_synonym_groups()
STUDENT = AccessFilter(
    user_id="student-1", school_id="school-a", published_visibilities=frozenset({"public", "district"})
)


async def suggested(
    index: SearchIndex, prefix: str, access: AccessFilter = EVERYONE, limit: int = 10
) -> list[str]:
    return [suggestion.text for suggestion in await index.suggest(prefix, access, limit=limit)]


# -- pinyin -----------------------------------------------------------------------------------------


async def test_full_pinyin_and_initials_find_a_title(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="lesson", title="树和喜鹊 第一课时", popularity=9),
        search_document(id="exact", title="树和喜鹊"),
        search_document(id="math", title="数学广角"),
        search_document(id="bird", title="小鸟的家"),
    )
    for typed in ("shuhexique", "shu he xi que", "ShuHeXiQue", "shxq", "SHXQ"):
        assert await ids(search_index, typed) == ["exact", "lesson"], typed
    # Part of a title, spelled or as initials.
    assert await ids(search_index, "xique") == ["exact", "lesson"]
    assert await ids(search_index, "diyikeshi") == ["lesson"]
    assert await ids(search_index, "dyks") == ["lesson"]
    assert await ids(search_index, "shuxue") == ["math"]
    assert await ids(search_index, "sxgj") == ["math"]
    assert await ids(search_index, "xiaoniao") == ["bird"]


async def test_pinyin_reads_polyphonic_characters_in_context(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="city", title="重庆的山城"),
        search_document(id="bank", title="认识人民币：去银行"),
        search_document(id="green", title="绿色的家园"),
        search_document(id="plan", title="解题策略"),
    )
    assert await ids(search_index, "chongqing") == ["city"]
    assert await ids(search_index, "yinhang") == ["bank"]
    assert await ids(search_index, "lvse") == ["green"]
    assert await ids(search_index, "celue") == ["plan"]
    assert await ids(search_index, "celve") == ["plan"]


async def test_ordinary_latin_words_keep_working_and_rank_above_pinyin(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="brand", title="品牌推广", popularity=9),
        search_document(id="ppt", title="PPT 制作技巧"),
        search_document(id="unit", title="认识钟表 Unit 3"),
    )
    assert await ids(search_index, "unit") == ["unit"]
    # ppt is a word in one title and the initials of another (品牌推广): the word ranks first.
    assert await ids(search_index, "ppt") == ["ppt", "brand"]


async def test_pinyin_does_not_turn_chinese_queries_into_homophones(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="tree", title="树和喜鹊"),
        search_document(id="book", title="书包里的秘密"),
    )
    assert await ids(search_index, "树") == ["tree"]
    assert await ids(search_index, "书") == ["book"]
    # One syllable is too vague to search by; suggestions complete it instead.
    assert await ids(search_index, "shu") == []


async def test_pinyin_obeys_filters_access_and_facets(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="public", title="树和喜鹊", grade="2"),
        search_document(id="grade-1", title="树和喜鹊 复习", grade="1"),
        search_document(id="draft", title="树和喜鹊 草稿", status="draft", owner_id="t-b"),
        search_document(id="other-school", title="树和喜鹊 外校", visibility="school", school_id="school-b"),
    )
    result = await search_index.search(SearchQuery(text="shuhexique", access=STUDENT, facets=["grade"]))
    assert sorted(hit.id for hit in result.hits) == ["grade-1", "public"]
    assert [(f.value, f.count) for f in result.facets["grade"]] == [("1", 1), ("2", 1)]
    assert await ids(search_index, "shxq", access=STUDENT, filters={"grade": ["2"]}) == ["public"]


# -- synonyms ---------------------------------------------------------------------------------------


async def test_synonyms_expand_a_query_word(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="rj", title="人民教育出版社 三年级 数学", edition=None),
        search_document(id="bsd", title="北师大版 三年级 数学", edition=None),
        search_document(id="df", title="道德与法治 第一课"),
        search_document(id="sxpd", title="思想品德 复习提纲"),
        search_document(id="ppt", title="认识图形 PPT"),
        search_document(id="plan", title="认识图形", body="一份完整的教学设计"),
    )
    assert await ids(search_index, "人教版", synonym_groups=SYNONYMS) == ["rj"]
    assert await ids(search_index, "人教版") == []
    assert await ids(search_index, "人教版 数学", synonym_groups=SYNONYMS) == ["rj"]
    assert sorted(await ids(search_index, "北京师范大学出版社", synonym_groups=SYNONYMS)) == ["bsd"]
    assert sorted(await ids(search_index, "道法", synonym_groups=SYNONYMS)) == ["df", "sxpd"]
    assert await ids(search_index, "图形 课件", synonym_groups=SYNONYMS) == ["ppt"]
    assert await ids(search_index, "教案", synonym_groups=SYNONYMS) == ["plan"]


async def test_district_synonyms_apply_without_reindexing(search_index: SearchIndex) -> None:
    await load(search_index, search_document(id="a", title="口算练习 一"))
    assert await ids(search_index, "速算", synonym_groups=SYNONYMS) == []
    district = merge_groups(SYNONYMS, [["口算", "速算", "心算"]])
    assert await ids(search_index, "速算", synonym_groups=district) == ["a"]
    assert await ids(search_index, "心算 练习", synonym_groups=district) == ["a"]


async def test_a_synonym_match_ranks_like_the_word_itself(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="body", title="三年级 数学", body="人教版教材配套", popularity=9),
        search_document(id="title", title="人民教育出版社 三年级 数学"),
    )
    assert await ids(search_index, "人教版", synonym_groups=SYNONYMS) == ["title", "body"]


# -- highlights -------------------------------------------------------------------------------------


async def test_highlights_wrap_matches_in_title_and_body(search_index: SearchIndex) -> None:
    body = "第一环节：导入。" + "教师出示图片，学生观察。" * 10 + "第二环节：小组合作探究光合作用的条件。"
    await load(
        search_index,
        search_document(id="lesson", title="光合作用 <第一课时> & 练习", body=body),
        search_document(id="notes", title="教学反思", body="学生在合作探究中表现积极"),
    )
    (hit,) = (await search_index.search(SearchQuery(text="光合作用", access=EVERYONE))).hits
    assert hit.highlights["title"] == "<em>光合作用</em> &lt;第一课时&gt; &amp; 练习"
    snippet = hit.highlights["body"]
    assert snippet.startswith("…") and snippet.endswith("。")
    assert "小组合作探究<em>光合作用</em>的条件" in snippet

    result = await search_index.search(SearchQuery(text="合作探究", access=EVERYONE))
    by_id = {hit.id: hit.highlights for hit in result.hits}
    assert "小组<em>合作探究</em>" in by_id["lesson"]["body"]
    # Only fields that matched have a highlight.
    assert by_id["notes"] == {"body": "学生在<em>合作探究</em>中表现积极"}


async def test_highlights_need_query_text(search_index: SearchIndex) -> None:
    await load(search_index, search_document(id="a", title="光合作用"))
    (hit,) = (await search_index.search(SearchQuery(access=EVERYONE))).hits
    assert hit.highlights == {}


async def test_highlights_show_synonyms_and_pinyin_on_the_chinese(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="rj", title="人民教育出版社 数学 Unit 1"),
        search_document(id="tree", title="树和喜鹊 第一课时"),
    )

    async def title_highlight(text: str) -> str:
        query = SearchQuery(text=text, access=EVERYONE, synonym_groups=SYNONYMS)
        (hit,) = (await search_index.search(query)).hits
        return hit.highlights["title"]

    assert await title_highlight("人教版") == "<em>人民教育出版社</em> 数学 Unit 1"
    assert await title_highlight("unit") == "人民教育出版社 数学 <em>Unit</em> 1"
    assert await title_highlight("shuhexique") == "<em>树和喜鹊</em> 第一课时"
    assert await title_highlight("xique") == "树和<em>喜鹊</em> 第一课时"
    assert await title_highlight("dyks") == "树和喜鹊 <em>第一课时</em>"


# -- suggestions ------------------------------------------------------------------------------------


async def test_suggest_completes_chinese_pinyin_and_initials(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="exact", title="树和喜鹊", popularity=5),
        search_document(id="lesson", title="树和喜鹊 第一课时", popularity=10),
        search_document(
            id="topic", kind=DocKind.post, parent_id="t1", title="树和喜鹊 教学研讨", popularity=1
        ),
        search_document(id="math", title="数学广角"),
        search_document(id="frog", title="小蝌蚪找妈妈"),
    )
    expected = ["树和喜鹊 第一课时", "树和喜鹊", "树和喜鹊 教学研讨"]
    for typed in ("树和", "树和喜", "shuhe", "shuhexi", "shu he xi", "shx", "SHX"):
        assert await suggested(search_index, typed) == expected, typed
    assert await suggested(search_index, "shu") == [*expected, "数学广角"]
    assert await suggested(search_index, "xiaokedou") == ["小蝌蚪找妈妈"]
    assert await suggested(search_index, "恐龙") == []
    assert await suggested(search_index, "   ") == []
    assert await suggested(search_index, "树和", limit=2) == expected[:2]
    (topic,) = [s for s in await search_index.suggest("树和喜鹊 教", EVERYONE)]
    assert (topic.text, topic.parent_id, topic.kind) == ("树和喜鹊 教学研讨", "t1", DocKind.post)


async def test_suggest_matches_later_segments_after_the_title_start(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="nested", title="【人教版】树和喜鹊", popularity=9),
        search_document(id="start", title="树和喜鹊的故事"),
    )
    # A title starting with what was typed, in Chinese, comes before any other match.
    assert await suggested(search_index, "树和") == ["树和喜鹊的故事", "【人教版】树和喜鹊"]
    # Otherwise popularity decides.
    assert await suggested(search_index, "shuhe") == ["【人教版】树和喜鹊", "树和喜鹊的故事"]
    assert await suggested(search_index, "人教") == ["【人教版】树和喜鹊"]


async def test_suggest_prefers_the_shorter_title_among_equally_popular(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="short", title="树和喜鹊"),
        search_document(id="long", title="树和喜鹊 第二课时 拓展阅读"),
        search_document(id="popular", title="树和喜鹊 第一课时", popularity=3),
    )
    for typed in ("树和", "shuhe", "shx"):
        assert await suggested(search_index, typed) == [
            "树和喜鹊 第一课时",
            "树和喜鹊",
            "树和喜鹊 第二课时 拓展阅读",
        ]


async def test_suggest_is_one_per_title_and_only_resources_and_posts(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="a", title="树和喜鹊", popularity=1),
        search_document(id="b", title="树和喜鹊", popularity=7),
        search_document(id="c", kind=DocKind.post, parent_id="t", title="树和喜鹊"),
        search_document(id="b:p1", kind=DocKind.file_page, parent_id="b", title="树木的生长", page=1),
        search_document(id="v:c1", kind=DocKind.video_cue, parent_id="v", title="树叶飘落", start_s=1.0),
    )
    (only,) = await search_index.suggest("树", EVERYONE)
    assert (only.text, only.parent_id) == ("树和喜鹊", "b")
    assert await suggested(search_index, "树木") == []
    assert await suggested(search_index, "shuye") == []


async def test_suggest_obeys_access_rules(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="public", title="树和喜鹊 公开课", popularity=1),
        search_document(id="district", title="树和喜鹊 区级", visibility="district"),
        search_document(id="own-school", title="树和喜鹊 本校", visibility="school", school_id="school-a"),
        search_document(
            id="other-school", title="树和喜鹊 外校", visibility="school", school_id="school-b", popularity=99
        ),
        search_document(
            id="private", title="树和喜鹊 私有", visibility="private", owner_id="t-b", popularity=99
        ),
        search_document(id="draft", title="树和喜鹊 草稿", status="draft", owner_id="t-b", popularity=99),
    )
    expected = {"树和喜鹊 公开课", "树和喜鹊 区级", "树和喜鹊 本校"}
    for typed in ("树和", "shuhe", "shx"):
        assert set(await suggested(search_index, typed, STUDENT)) == expected
    assert await suggested(search_index, "shx", AccessFilter()) == ["树和喜鹊 公开课"]
    owner = AccessFilter(user_id="t-b", school_id="school-b")
    assert set(await suggested(search_index, "树和", owner)) == {
        "树和喜鹊 公开课",
        "树和喜鹊 外校",
        "树和喜鹊 私有",
        "树和喜鹊 草稿",
    }


async def test_suggestions_follow_updates_deletes_and_rebuilds(search_index: SearchIndex) -> None:
    await load(
        search_index, search_document(id="a", title="树和喜鹊"), search_document(id="b", title="小蝌蚪")
    )
    await load(search_index, search_document(id="a", title="乌鸦喝水"))
    assert await suggested(search_index, "shuhe") == []
    assert await suggested(search_index, "wuya") == ["乌鸦喝水"]
    await search_index.delete(["a"])
    await search_index.refresh()
    assert await suggested(search_index, "wuya") == []

    async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
        yield [search_document(id="c", title="司马光")]
        await search_index.upsert([search_document(id="d", title="司马迁")])

    await search_index.rebuild(batches())
    await search_index.refresh()
    assert await suggested(search_index, "sima") == ["司马迁", "司马光"]
    assert await suggested(search_index, "xiaoke") == []


# -- latin accents --------------------------------------------------------------------------------


async def test_latin_accents_are_folded_both_ways_and_highlighted_on_the_original(
    search_index: SearchIndex,
) -> None:
    await load(
        search_index,
        search_document(id="french", title="法语阅读", body="Les ÉVÉNEMENTS de la rentrée"),
        search_document(id="german", title="Grüße aus München"),
        search_document(id="plain", title="English reading: events"),
    )

    for typed in ("evenements", "événements", "EVENEMENTS", "Événements"):
        assert await ids(search_index, typed) == ["french"], typed
    assert await ids(search_index, "rentree") == ["french"]
    assert await ids(search_index, "munchen") == ["german"]
    assert await ids(search_index, "grüße") == ["german"]
    found = await search_index.search(SearchQuery(text="evenements", access=EVERYONE))
    assert found.hits[0].highlights["body"] == "Les <em>ÉVÉNEMENTS</em> de la rentrée"
