"""The query's curriculum positions, question words, fuzzy pinyin folding and corrections."""

from __future__ import annotations

import pytest

from search.fuzzy import DEFAULT_FUZZY, FuzzyPinyin, fuzzy_field
from search.pinyin import query_syllable_phrases
from search.text import normalize
from search.understand import understand, unit_name, without_question_words


def understood(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    found = understand(text)
    return found.text, [(part.text, part.field, part.value) for part in found.parts]


def test_grades_volumes_units_editions_and_stages() -> None:
    assert understood("七年级上册第二单元") == (
        "",
        [("七年级上册", "grade", "7"), ("七年级上册", "volume", "上册"), ("第二单元", "unit", "第二单元")],
    )
    assert understood("人教版五下 分数") == (
        "分数",
        [("人教版", "edition", "人教版"), ("五下", "grade", "5"), ("五下", "volume", "下册")],
    )
    assert understood("人民教育出版社 三年级 面积") == (
        "面积",
        [("人民教育出版社", "edition", "人教版"), ("三年级", "grade", "3")],
    )
    assert understood("高一 劝学") == ("劝学", [("高一", "grade", "10")])
    assert understood("初二 勾股定理") == ("勾股定理", [("初二", "grade", "8")])
    assert understood("第12单元 复习") == ("复习", [("第12单元", "unit", "第十二单元")])
    assert understood("下册 识字") == ("识字", [("下册", "volume", "下册")])
    assert understood("初中 物理") == ("物理", [("初中", "stage", "初中")])


def test_words_that_only_look_like_positions_stay_words() -> None:
    for text in ("看一下", "想一想 说一说", "教科书", "unit 3 课件", "一上一下"):
        assert understood(text) == (" ".join(normalize(text).split()), []), text


def test_fields_the_caller_filters_stay_words() -> None:
    found = understand("五下 分数", frozenset({"grade"}))
    assert found.text == "五下 分数" and found.parts == ()


def test_unit_names() -> None:
    assert [unit_name(n) for n in (1, 9, 10, 11, 20, 23)] == [
        "第一单元",
        "第九单元",
        "第十单元",
        "第十一单元",
        "第二十单元",
        "第二十三单元",
    ]


@pytest.mark.parametrize(
    ("typed", "content"),
    [
        ("如何证明三角形内角和", "证明三角形内角和"),
        ("三角形内角和怎么证明？", "三角形内角和 证明"),
        ("什么是光合作用", "光合作用"),
        ("朗读的方法", "朗读"),
        ("怎样教一年级学生朗读", "一年级学生朗读"),
        ("请问有没有分数的课件呢", "分数 课件"),
        ("小鸟的家", "小鸟 家"),
        ("怎么样", "怎么样"),  # nothing else left: kept
    ],
)
def test_question_words_are_dropped(typed: str, content: str) -> None:
    assert without_question_words(typed) == content


def test_fuzzy_folding_and_parsing() -> None:
    assert fuzzy_field("正方形", DEFAULT_FUZZY) == fuzzy_field("怎番心", DEFAULT_FUZZY)
    assert DEFAULT_FUZZY.split("zenfanxin") == DEFAULT_FUZZY.split("zhengfangxing")
    # f/h: typed spellings that are no syllable of their own still parse.
    assert DEFAULT_FUZZY.split("fuanle") == DEFAULT_FUZZY.split("huanle")
    none = FuzzyPinyin.parse("none")
    assert none.pairs == () and none.fold("zheng") == "zheng"
    assert FuzzyPinyin.parse("default") == DEFAULT_FUZZY
    chained = FuzzyPinyin.parse("n=l, r=l")
    assert chained.fold("ren") == chained.fold("nen") == chained.fold("len")
    with pytest.raises(ValueError, match="unknown fuzzy pinyin pair"):
        FuzzyPinyin.parse("z=j")


def test_mixed_queries_read_as_syllables() -> None:
    assert query_syllable_phrases("sima光", homophones=False) == ("si ma guang",)
    assert query_syllable_phrases("三角形nei角和", homophones=False) == ("san jiao xing nei jiao he",)
    # Not pinyin: no syllables to look for (the words match as they are).
    assert query_syllable_phrases("unit 3 课件", homophones=False) == ()
    # Chinese alone reads as pinyin only for homophones, from three characters on.
    assert query_syllable_phrases("望庐山瀑不", homophones=False) == ()
    assert query_syllable_phrases("望庐山瀑不", homophones=True) == ("wang lu shan pu bu",)
    assert query_syllable_phrases("时钟", homophones=True) == ()
