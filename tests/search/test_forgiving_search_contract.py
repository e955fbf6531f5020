"""Search that forgives, on every SearchIndex: traditional characters, fuzzy pinyin, homophone typos,
did-you-mean, mixed scripts, curriculum positions and question words."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.documents import SearchQuery, SearchResult
from search.embedded import EmbeddedSearchIndex
from search.fuzzy import FuzzyPinyin
from search.index import SearchIndex
from search.synonyms import default_synonym_groups
from tests.factories import search_document
from tests.search.test_search_index_contract import EVERYONE, ids, load

pytestmark = pytest.mark.anyio

SYNONYMS = default_synonym_groups()


async def forgiving(index: SearchIndex, text: str, **options: object) -> SearchResult:
    query = SearchQuery(text=text, access=EVERYONE, forgiving=True, synonym_groups=SYNONYMS, **options)
    return await index.search(query)


async def forgiving_ids(index: SearchIndex, text: str, **options: object) -> list[str]:
    return [hit.id for hit in (await forgiving(index, text, **options)).hits]


# -- traditional characters -------------------------------------------------------------------------


async def test_traditional_and_simplified_find_each_other(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="math", title="数学广角 搭配问题"),
        search_document(id="poem", title="春曉", body="孟浩然 春眠不覺曉 處處聞啼鳥"),
        search_document(id="dry", title="天气干燥的原因"),
    )
    assert await ids(search_index, "數學") == ["math"]
    assert await ids(search_index, "春晓") == ["poem"]
    assert await ids(search_index, "处处闻啼鸟") == ["poem"]
    # Phrase-level conversion: 乾燥 is 干燥, while 乾隆 would stay.
    assert await ids(search_index, "乾燥") == ["dry"]
    (hit,) = (await search_index.search(SearchQuery(text="春晓", access=EVERYONE))).hits
    # Results and snippets show the stored text.
    assert hit.document.title == "春曉"
    assert hit.highlights["title"] == "<em>春曉</em>"
    (hit,) = (await search_index.search(SearchQuery(text="啼鸟", access=EVERYONE))).hits
    assert "<em>啼鳥</em>" in hit.highlights["body"]
    # Autocomplete folds too.
    assert [s.text for s in await search_index.suggest("數學", EVERYONE)] == ["数学广角 搭配问题"]
    assert [s.text for s in await search_index.suggest("春晓", EVERYONE)] == ["春曉"]


# -- fuzzy pinyin -----------------------------------------------------------------------------------


async def test_fuzzy_pinyin_finds_what_dialect_speakers_type(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="square", title="正方形的认识"),
        search_document(id="falls", title="望庐山瀑布"),
        search_document(id="other", title="长方体"),
    )
    for typed in ("zhengfangxing", "zenfanxin", "zengfangxin", "zhenfanxing"):
        assert await ids(search_index, typed) == ["square"], typed
    for typed in ("wanglushan", "wanlusan", "wangnushan"):
        assert await ids(search_index, typed) == ["falls"], typed
    # Highlights show the characters the fuzzy pinyin matched.
    (hit,) = (await search_index.search(SearchQuery(text="wanlusan", access=EVERYONE))).hits
    assert hit.highlights["title"] == "<em>望庐山</em>瀑布"


async def test_exact_ranks_above_pinyin_equal_above_fuzzy(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="fuzzy", title="诗词大会", popularity=9),  # shi ci: s/sh, c/ch away
        search_document(id="pinyin", title="四次方程", popularity=5),  # si ci: the same syllables
    )
    assert await ids(search_index, "sici") == ["pinyin", "fuzzy"]


async def test_fuzzy_pairs_are_a_setting_and_a_change_rewrites_the_index(tmp_path: Path) -> None:
    strict = EmbeddedSearchIndex(tmp_path / "search.db", FuzzyPinyin.parse("none"))
    await strict.ensure_ready()
    await load(strict, search_document(id="square", title="正方形"), search_document(id="blue", title="蓝天"))
    assert await ids(strict, "zenfanxin") == []
    await strict.close()
    only_n_l = EmbeddedSearchIndex(tmp_path / "search.db", FuzzyPinyin.parse("n=l"))
    try:
        await only_n_l.ensure_ready()
        assert await ids(only_n_l, "zenfanxin") == []
        assert await ids(only_n_l, "zhengfangxing") == ["square"]
        assert await ids(only_n_l, "nantian") == ["blue"]
    finally:
        await only_n_l.drop_all()


# -- homophone typos and did-you-mean ---------------------------------------------------------------


async def test_a_homophone_typo_finds_the_title_and_is_corrected(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="falls", title="望庐山瀑布"),
        search_document(id="sima", title="司马光砸缸"),
        search_document(id="cloth", title="布的由来"),
    )
    result = await forgiving(search_index, "望庐山瀑不")
    assert [hit.id for hit in result.hits] == ["falls"]
    assert result.homophones and result.did_you_mean == "望庐山瀑布"
    result = await forgiving(search_index, "司马光砸钢")
    assert [hit.id for hit in result.hits] == ["sima"]
    assert result.did_you_mean == "司马光砸缸"
    # Without forgiving, or with a good hit, Chinese stays Chinese.
    assert await ids(search_index, "望庐山瀑不") == []
    result = await forgiving(search_index, "望庐山瀑布")
    assert [hit.id for hit in result.hits] == ["falls"]
    assert not result.homophones and result.did_you_mean is None


async def test_did_you_mean_from_the_vocabulary(search_index: SearchIndex) -> None:
    await load(search_index, search_document(id="a", title="认识图形"))
    result = await forgiving(search_index, "人交版")
    assert result.did_you_mean == "人教版"


# -- mixed scripts ----------------------------------------------------------------------------------


async def test_mixed_script_queries_read_each_part_its_way(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="sima", title="司马光"),
        search_document(id="angles", title="三角形内角和"),
        search_document(id="clock", title="认识钟表 Unit 3 课件"),
        search_document(id="other", title="光的反射"),
    )
    assert await ids(search_index, "sima光") == ["sima"]
    assert await ids(search_index, "三角形nei角和") == ["angles"]
    assert await ids(search_index, "unit 3 课件") == ["clock"]
    assert await ids(search_index, "si马guang") == ["sima"]


# -- curriculum positions ---------------------------------------------------------------------------


async def test_curriculum_positions_become_filters(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="g7a-u2", title="春", grade="7", volume="上册", unit="第二单元"),
        search_document(id="g7a-u1", title="秋天的怀念", grade="7", volume="上册", unit="第一单元"),
        search_document(id="g7b-u2", title="木兰诗", grade="7", volume="下册", unit="第二单元"),
        search_document(id="g5b-rj", title="分数的意义", grade="5", volume="下册", edition="人教版"),
        search_document(id="g5b-bsd", title="分数的意义", grade="5", volume="下册", edition="北师大版"),
    )
    result = await forgiving(search_index, "七年级上册第二单元")
    assert [hit.id for hit in result.hits] == ["g7a-u2"]
    assert [(u.text, u.field, u.value) for u in result.understood] == [
        ("七年级上册", "grade", "7"),
        ("七年级上册", "volume", "上册"),
        ("第二单元", "unit", "第二单元"),
    ]
    result = await forgiving(search_index, "人教版五下 分数")
    assert [hit.id for hit in result.hits] == ["g5b-rj"]
    assert {(u.field, u.value) for u in result.understood} == {
        ("edition", "人教版"),
        ("grade", "5"),
        ("volume", "下册"),
    }
    # A filter the caller set wins: that part stays words to find.
    assert await forgiving_ids(search_index, "五下 分数", filters={"grade": ["7"]}) == []
    # Not forgiving: the same text is words to find.
    assert await ids(search_index, "七年级上册第二单元") == []


async def test_a_position_nothing_declares_is_searched_as_words(search_index: SearchIndex) -> None:
    """The words of a scanned worksheet name its unit, but the resource declares none: the position
    filter finds nothing, so the text is searched as typed."""
    await load(
        search_index,
        search_document(id="scan", title="三年级语文 单元测验", body="期中考试试卷 第三单元练习题"),
        search_document(id="other", title="第二单元 古诗", unit="第二单元"),
    )
    result = await forgiving(search_index, "第三单元练习题")
    assert ([hit.parent_id for hit in result.hits], result.understood) == (["scan"], [])
    # Where the position does find something, it stays a filter.
    result = await forgiving(search_index, "第二单元 古诗")
    assert [hit.parent_id for hit in result.hits] == ["other"]
    assert [(u.field, u.value) for u in result.understood] == [("unit", "第二单元")]


# -- question words ---------------------------------------------------------------------------------


async def test_question_words_do_not_block_matches(search_index: SearchIndex) -> None:
    await load(
        search_index,
        search_document(id="angles", title="三角形内角和的证明"),
        search_document(id="reading", title="一年级学生朗读指导", grade="1"),
        search_document(id="photo", title="光合作用", body="光合作用是绿色植物利用光能制造有机物的过程"),
    )
    assert await ids(search_index, "如何证明三角形内角和") == ["angles"]
    assert await ids(search_index, "三角形内角和怎么证明？") == ["angles"]
    assert await ids(search_index, "什么是光合作用") == ["photo"]
    assert await ids(search_index, "朗读的方法") == ["reading"]
    assert await forgiving_ids(search_index, "怎样教一年级学生朗读") == ["reading"]
