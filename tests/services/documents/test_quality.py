"""Garbage text is told from text: the junk broken font mappings produce never passes for text."""

from __future__ import annotations

import pytest

from services.documents.quality import GARBAGE_THRESHOLD, assess, clean, is_garbage

READABLE = [
    "第三单元 《秋天的雨》 教学设计 一、教学目标 1. 认识本课生字，会写“盒、颜”等13个字。",
    "小蝌蚪找媽媽 青蛙的成長過程",  # traditional
    "Reading: ÉVÉNEMENTS de la rentrée, 2024-09-01",
    "x² + y² = z²，α、β 为锐角，∑ aᵢ ≥ 0",
    "안녕하세요 학교 선생님 여러분",  # Korean, which is all Hangul
    "ひらがなとカタカナ、漢字の文章です",  # Japanese mixes kana and Han
]

# Legacy bytes read as UTF-16 and glyph names, as pypdf and other readers emit them.
GARBAGE = [
    "ꑰ뷁끂\ua7e4뛽뛽",  # pypdf's reading of a B5pc-H page that says 小蝌蚪找媽媽
    "第三单元 秋天的雨 教学设计 认识本课生字".encode("gbk").decode("utf-16-be", "replace"),
    "小蝌蚪找妈妈 青蛙的成长过程 期中考试试卷".encode("gbk").decode("utf-16-le", "replace"),
    "/g18/g152/g33/g27 /g44/g91/g3",
    "(cid:12)(cid:873)(cid:4410)(cid:9)",
    "\x01\x02\x03\x04\x05ab\x06",
    "\ue000\ue001\ue002\ue003 第一",
    "\ufffd\ufffd\ufffd\ufffd课",
]


@pytest.mark.parametrize("text", READABLE)
def test_readable_text_is_usable_and_kept_whole(text: str) -> None:
    quality = assess(text)

    assert quality.usable and quality.score <= 0.05, quality
    assert quality.cleaned == text


@pytest.mark.parametrize("text", GARBAGE)
def test_garbage_is_scored_above_the_threshold(text: str) -> None:
    assert assess(text).score > GARBAGE_THRESHOLD
    assert is_garbage(text)


def test_a_little_junk_in_a_readable_page_is_cleaned_out() -> None:
    text = (
        "第一课 小蝌蚪找妈妈 青蛙妈妈的样子 课后练习：读一读，说一说，小蝌蚪是怎样长成青蛙的\ue000 /g18 \x07"
    )

    quality = assess(text)

    assert quality.usable
    assert " ".join(quality.cleaned.split()) == (
        "第一课 小蝌蚪找妈妈 青蛙妈妈的样子 课后练习：读一读，说一说，小蝌蚪是怎样长成青蛙的"
    )
    assert clean("a\ufffdb\u200bc") == "a b c"


def test_empty_text_is_not_usable() -> None:
    assert not assess(" \n ").usable
