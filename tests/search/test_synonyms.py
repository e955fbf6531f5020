"""Synonym groups: built-ins, merging the district's groups, query expansion and edition names."""

from __future__ import annotations

from search.synonyms import default_synonym_groups, expand_query, merge_groups, normalize_edition


def _group_of(groups: list[list[str]], term: str) -> list[str]:
    (group,) = [group for group in groups if term in group]
    return group


def test_built_in_groups_cover_editions_subjects_and_resource_words() -> None:
    groups = default_synonym_groups()
    assert {"人教版", "人民教育出版社", "人教"} <= set(_group_of(groups, "人教版"))
    assert {"北师大版", "北京师范大学出版社"} <= set(_group_of(groups, "北师大版"))
    assert {"苏教版", "江苏教育出版社"} <= set(_group_of(groups, "苏教版"))
    assert {"部编版", "统编版"} <= set(_group_of(groups, "部编版"))
    assert {"外研版", "外语教学与研究出版社"} <= set(_group_of(groups, "外研版"))
    assert {"沪教版", "上海教育出版社"} <= set(_group_of(groups, "沪教版"))
    assert {"道德与法治", "道法", "思想品德"} <= set(_group_of(groups, "道法"))
    assert {"信息科技", "信息技术"} <= set(_group_of(groups, "信息技术"))
    assert {"体育与健康", "体育"} <= set(_group_of(groups, "体育"))
    assert {"微课", "微视频"} <= set(_group_of(groups, "微课"))
    assert {"课件", "ppt"} <= set(_group_of(groups, "课件"))
    assert {"教案", "教学设计"} <= set(_group_of(groups, "教案"))
    assert {"作业设计", "作业"} <= set(_group_of(groups, "作业"))


def test_default_groups_are_a_fresh_copy() -> None:
    default_synonym_groups()[0].append("别的")
    assert "别的" not in default_synonym_groups()[0]


def test_merge_joins_groups_that_share_a_term_and_keeps_first_spelling() -> None:
    merged = merge_groups(
        [["课件", "PPT"], ["口算", "速算"]],
        [["ppt", "演示文稿"], ["  心算 ", "速算", "口算"], ["单独"], ["", "  "]],
    )
    assert merged == [["课件", "PPT", "演示文稿"], ["口算", "速算", "心算"]]


def test_merge_joins_transitively() -> None:
    assert merge_groups([["a", "b"], ["c", "d"]], [["b", "c"]]) == [["a", "b", "c", "d"]]


def test_merge_with_district_groups_extends_the_built_ins() -> None:
    merged = merge_groups(default_synonym_groups(), [["人教版", "人教PEP"]])
    assert "人教PEP" in _group_of(merged, "人教版")
    assert len(merged) == len(default_synonym_groups())


def test_expand_query_without_groups_is_the_query_words() -> None:
    assert expand_query("树和喜鹊 第一课时") == [("树",), ("和",), ("喜鹊",), ("第一",), ("课时",)]


def test_expand_query_adds_synonyms_as_alternatives() -> None:
    groups = default_synonym_groups()
    expanded = expand_query("人教版 数学", groups)
    assert expanded[0][0] == "人教版"
    assert set(expanded[0]) >= {"人教版", "人民教育出版社", "人教"}
    assert expanded[1] == ("数学",)


def test_expand_query_finds_terms_spanning_several_jieba_tokens() -> None:
    groups = default_synonym_groups()
    # jieba cuts 道法 into 道 / 法 and 北师大版 into 北师大 / 版; the term is still recognized.
    assert expand_query("道法", groups)[0][0] == "道法"
    assert "道德与法治" in expand_query("道法", groups)[0]
    assert "北京师范大学出版社" in expand_query("北师大版", groups)[0]
    # Latin terms compare case-insensitively.
    assert "课件" in expand_query("PPT", groups)[0]


def test_expand_query_ignores_a_term_hidden_inside_other_words() -> None:
    assert expand_query("知道法律", default_synonym_groups()) == [("知道",), ("法律",)]


def test_normalize_edition_maps_aliases_to_the_canonical_name() -> None:
    assert normalize_edition("人民教育出版社") == "人教版"
    assert normalize_edition("人教") == "人教版"
    assert normalize_edition(" 人教版 ") == "人教版"
    assert normalize_edition("北京师范大学出版社") == "北师大版"
    assert normalize_edition("江苏教育出版社") == "苏教版"
    assert normalize_edition("外语教学与研究出版社") == "外研版"
    assert normalize_edition("上海教育出版社") == "沪教版"
    assert normalize_edition("统编版") == "部编版"
    assert normalize_edition("某某出版社") == "某某出版社"
    assert normalize_edition(" ＡＢ出版社 ") == "AB出版社"
