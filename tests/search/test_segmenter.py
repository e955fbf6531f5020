"""rjieba (jieba-rs) cuts as Python's jieba did, token for token, on text like the district's.

The sample: resources, pages and cues as bench/search.py generates them (real lesson names, curriculum
metadata, page texts), the lessons and queries of bench/quality.py, and mixed text of the kinds users
type. Both segmenters use jieba's own dictionary. bench/README.md lists the differences found on random
noise (runs of one repeated unknown character, latin joined by punctuation): none occurs here, and
the second only repeats a word the field already holds (last test).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import jieba
import pytest

from search import text
from search.text import WORD_PART, normalize

ROOT = Path(__file__).resolve().parents[2]

MIXED = (
    "一年级数学上册第三单元 认识钟表 教学设计（人教版）",
    "七年级上册第二单元 课件.pptx",
    "《春》朱自清 PPT课件 第1课时",
    "數學 教學設計 國語 課件",
    "Unit 3 What's your favourite food? 五年级英语 PEP",
    "3.14 c++ 2024年 9月1日 50% A4纸",
    "怎样教小蝌蚪找妈妈？请问有没有认识钟表的课件",
    "ＡＢＣ１２３ 全角字母 和 数字",
    "道法 课件 北师大版 外语教学与研究出版社",
    "勾股定理的证明方法 · 八年级下册 第十七章",
    "The water cycle 水循环 科学 四年级",
)


def _bench_module(name: str) -> ModuleType:
    path = ROOT / "bench" / f"{name}.py"
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))  # the benches import each other as scripts do
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _sample() -> Iterator[str]:
    yield from MIXED
    for document in _bench_module("search").generate_documents(400, ["s1", "s2", "s3"], seed=19):
        yield document.title
        yield document.body
    quality = _bench_module("quality")
    documents, resources = quality.corpus()
    for document in documents:
        yield document.title
        yield document.body
    for query in quality.make_queries(resources, 15):
        yield query.text


class _PythonJieba:
    def __init__(self) -> None:
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()

    def cut(self, value: str) -> list[str]:
        return list(jieba.cut(value))

    def cut_for_search(self, value: str) -> list[str]:
        return list(jieba.cut_for_search(value))


@pytest.fixture(scope="module")
def sample() -> list[str]:
    return [value for value in _sample() if value]


def _analysed(values: list[str]) -> list[tuple[list[str], tuple[str, ...], list[str]]]:
    return [
        (text.word_tokens(value), text.query_words(value), text.cut(normalize(value))) for value in values
    ]


def test_rjieba_cuts_the_sample_as_python_jieba_did(sample: list[str]) -> None:
    assert len(sample) > 1000
    with_rjieba = _analysed(sample)
    text.use_segmenter(_PythonJieba())
    try:
        with_jieba = _analysed(sample)
    finally:
        text.use_segmenter(None)
    different = [
        (value, ours, theirs)
        for value, ours, theirs in zip(sample, with_rjieba, with_jieba, strict=True)
        if ours != theirs
    ]
    assert different == []
    # The sample is Chinese text cut into words, not characters one by one.
    words = [part for tokens, _, _ in with_rjieba for part in tokens]
    assert sum(len(part) > 1 and WORD_PART.fullmatch(part) is not None for part in words) > len(words) / 3


def test_latin_joined_by_punctuation_only_repeats_words_the_field_holds() -> None:
    """rjieba keeps e-mail whole where jieba cut e / - / mail, and its search mode then adds mail
    again: the index field holds the same words (one more occurrence of one), queries cut alike."""
    value = "e-mail v2.0 tp.pa 课件"
    ours = text.word_tokens(value), text.query_words(value)
    text.use_segmenter(_PythonJieba())
    try:
        theirs = text.word_tokens(value), text.query_words(value)
    finally:
        text.use_segmenter(None)
    assert set(ours[0]) == set(theirs[0])
    assert ours[1] == theirs[1]
