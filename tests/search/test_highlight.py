"""Highlighted snippets: escaping, whole-word latin matches, snippets around the first match."""

from __future__ import annotations

from search.highlight import highlight
from search.plan import plan_query
from search.synonyms import default_synonym_groups


def test_matches_are_wrapped_and_everything_else_escaped() -> None:
    assert highlight("<b>小数</b> & 加法", "小数") == "&lt;b&gt;<em>小数</em>&lt;/b&gt; &amp; 加法"


def test_latin_words_match_whole_words_only() -> None:
    assert highlight("Unit 3 community units", "unit") == "<em>Unit</em> 3 community units"
    assert highlight("ＵＮＩＴ ３", "unit 3") == "<em>ＵＮＩＴ ３</em>"


def test_long_text_gives_a_snippet_around_the_first_match() -> None:
    text = "前言。" * 40 + "小组合作探究光合作用。" + "结语。" * 40
    snippet = highlight(text, "合作探究", max_chars=40)
    assert snippet is not None
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<em>合作探究</em>" in snippet
    assert len(snippet.replace("<em>", "").replace("</em>", "")) == 42


def test_no_match_or_no_query_gives_none() -> None:
    assert highlight("树和喜鹊", "恐龙") is None
    assert highlight("树和喜鹊", "  ") is None
    assert highlight("", "树") is None


def test_synonyms_and_pinyin_light_up_what_they_matched() -> None:
    plan = plan_query("人教版", default_synonym_groups())
    assert plan is not None
    assert highlight("人民教育出版社 数学", plan) == "<em>人民教育出版社</em> 数学"
    assert highlight("树和喜鹊 第一课时", "shxq", pinyin=True) == "<em>树和喜鹊</em> 第一课时"
    assert highlight("树和喜鹊 第一课时", "shxq") is None
    assert highlight("【树和喜鹊】", "xique", pinyin=True) == "【树和<em>喜鹊</em>】"
