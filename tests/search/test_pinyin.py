"""Pinyin and initials: what titles are indexed as and what latin queries are read as."""

from __future__ import annotations

import pytest

from search.pinyin import (
    annotate,
    full_pinyin,
    initials,
    initials_field,
    pinyin_field,
    query_initials,
    query_pinyin,
    split_syllables,
    typed_pinyin,
)
from search.text import char_tokens


def test_titles_get_one_syllable_and_one_initial_per_character_token() -> None:
    assert pinyin_field("树和喜鹊 第一课时") == "shu he xi que di yi ke shi"
    assert initials_field("树和喜鹊 第一课时") == "s h x q d y k s"
    assert full_pinyin("树和喜鹊") == "shuhexique"
    assert initials("树和喜鹊") == "shxq"


def test_latin_and_digits_are_their_own_tokens_aligned_with_char_tokens() -> None:
    title = "认识钟表 Unit 3（第２课时）"
    assert pinyin_field(title) == "ren shi zhong biao unit 3 di 2 ke shi"
    assert initials_field(title) == "r s z b u 3 d 2 k s"
    assert len(pinyin_field(title).split()) == len(char_tokens(title))


def test_polyphonic_characters_are_read_in_context() -> None:
    assert full_pinyin("重庆") == "chongqing"
    assert full_pinyin("重要") == "zhongyao"
    assert full_pinyin("银行") == "yinhang"
    assert full_pinyin("长方形") == "changfangxing"
    assert full_pinyin("长大") == "zhangda"


def test_u_umlaut_is_written_v() -> None:
    assert full_pinyin("绿色") == "lvse"
    assert full_pinyin("策略") == "celve"


def test_annotate_keeps_offsets_into_the_text() -> None:
    tokens = annotate("树和 喜鹊")
    assert [(token.start, token.end, token.text, token.syllable) for token in tokens] == [
        (0, 1, "树", "shu"),
        (1, 2, "和", "he"),
        (3, 4, "喜", "xi"),
        (4, 5, "鹊", "que"),
    ]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("shuhexique", ("shu", "he", "xi", "que")),
        ("xique", ("xi", "que")),
        ("xian", ("xian",)),
        ("zhuangzhuang", ("zhuang", "zhuang")),
        ("celue", ("ce", "lve")),
        ("lvse", ("lv", "se")),
    ],
)
def test_split_syllables_prefers_the_fewest(word: str, expected: tuple[str, ...]) -> None:
    assert split_syllables(word)[0] == expected


def test_split_syllables_lists_ambiguous_readings_and_rejects_non_pinyin() -> None:
    assert split_syllables("xian") == (("xian",), ("xi", "an"))
    assert set(split_syllables("fangan")) == {("fang", "an"), ("fan", "gan")}
    assert split_syllables("unit") == ()
    assert split_syllables("shxq") == ()
    assert split_syllables("") == ()
    assert split_syllables("ni3hao") == ()


def test_query_pinyin_joins_spelled_and_spaced_forms_alike() -> None:
    assert query_pinyin("shuhexique")[0] == "shu he xi que"
    assert query_pinyin("shu he xi que")[0] == "shu he xi que"
    assert query_pinyin("ShuHe XiQue")[0] == "shu he xi que"
    assert query_pinyin("xi'an") == ("xi an",)


def test_query_pinyin_needs_two_syllables_and_no_chinese() -> None:
    assert query_pinyin("shu") == ()
    assert "xi an" in query_pinyin("xian")
    assert "xian" not in query_pinyin("xian")
    assert query_pinyin("树 shu") == ()
    assert query_pinyin("unit 3") == ()
    assert query_pinyin("2024") == ()


def test_query_initials_for_letters_only() -> None:
    assert query_initials("shxq") == "s h x q"
    assert query_initials("S H X Q") == "s h x q"
    assert query_initials("s") is None
    assert query_initials("unit 3") is None
    assert query_initials("树x") is None
    assert query_initials("a" * 40) is None


def test_typed_pinyin_is_joined_and_spells_u_umlaut_as_v() -> None:
    assert typed_pinyin("Shu He Xi") == "shuhexi"
    assert typed_pinyin("celue") == "celve"
