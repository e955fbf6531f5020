"""What a query says besides the words to find: its place in the curriculum, and question words.

People name where a lesson sits in the textbook (七年级上册第二单元, 人教版五下, 高一); those parts become
filters on the curriculum fields instead of words to find in titles (`understand`). Question words and
particles (怎样, 如何, 什么是, 吗, …的方法) are dropped from the words a hit must contain
(`without_question_words`), and so are structural particles (的, 地, 得, 了): 如何证明三角形内角和 looks for
证明 三角形内角和; the whole query still ranks a title containing it as typed first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from search.synonyms import EDITION_GROUPS
from search.text import cut, normalize

_DIGITS = "零一二三四五六七八九十"
_NUMBER = r"[一二三四五六七八九十]{1,3}|\d{1,2}"
# Edition names and aliases of 3 characters or more: shorter aliases (教科, 人教) are also parts of
# ordinary words (教科书), so only the query's words catch those, through the synonyms.
_EDITION_NAMES = sorted(
    ((term, group[0]) for group in EDITION_GROUPS for term in group if len(term) >= 3),
    key=lambda pair: -len(pair[0]),
)
_EDITION = "|".join(re.escape(term) for term, _ in _EDITION_NAMES)
_EDITION_OF = dict(_EDITION_NAMES)
# Where a compact grade-and-volume (五下, 七上) may start and end, so 看一下 is not grade 1.
_BEFORE = r"(?:(?<=^)|(?<=[\s版,，、]))"
_AFTER = r"(?=$|[\s,，、第册]|[^\u4e00-\u9fff])"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("edition", re.compile(f"(?P<edition>{_EDITION})")),
    (
        "grade",
        re.compile(
            rf"(?P<grade>[一二三四五六七八九]|[1-9])年级(?:(?P<volume>[上下])(?:册|学期)?)?"
            rf"|(?P<school>[初高])(?P<year>[一二三])(?:年级)?(?:(?P<volume2>[上下])(?:册|学期)?)?"
            rf"|{_BEFORE}(?P<compact>[一二三四五六七八九])(?P<volume3>[上下]){_AFTER}"
        ),
    ),
    ("volume", re.compile(r"(?P<volume>[上下])册")),
    ("unit", re.compile(rf"第(?P<unit>{_NUMBER})单元")),
    ("stage", re.compile(r"(?P<stage>小学|初中|高中)")),
)
_VOLUMES = {"上": "上册", "下": "下册"}


def chinese_number(text: str) -> int | None:
    """一 → 1, 十二 → 12, 7 → 7; None beyond 1..99."""
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _DIGITS.index(text[1]) if len(text) == 2 else None
    if len(text) == 1:
        return _DIGITS.index(text) or None
    if len(text) == 2 and text[1] == "十":
        return _DIGITS.index(text[0]) * 10
    if len(text) == 3 and text[1] == "十":
        return _DIGITS.index(text[0]) * 10 + _DIGITS.index(text[2])
    return None


def unit_name(number: int) -> str:
    """The stored spelling of a unit: 第二单元, 第十二单元."""
    if number <= 10:
        return f"第{_DIGITS[number]}单元" if number < 10 else "第十单元"
    tens, ones = divmod(number, 10)
    return f"第{'' if tens == 1 else _DIGITS[tens]}十{_DIGITS[ones] if ones else ''}单元"


@dataclass(frozen=True)
class UnderstoodPart:
    """One curriculum position read from the query: the text it came from and the filter it became."""

    text: str
    field: str
    value: str


@dataclass(frozen=True)
class Understanding:
    text: str  # the query without the understood parts
    parts: tuple[UnderstoodPart, ...]


def _parts(match: re.Match[str], kind: str) -> list[tuple[str, str]]:
    groups = match.groupdict()
    if kind == "edition":
        return [("edition", _EDITION_OF[groups["edition"]])]
    if kind == "grade":
        if groups.get("grade"):
            grade = chinese_number(groups["grade"])
            volume = groups.get("volume")
        elif groups.get("school"):
            grade = (chinese_number(groups["year"]) or 0) + (6 if groups["school"] == "初" else 9)
            volume = groups.get("volume2")
        else:
            grade = chinese_number(groups["compact"])
            volume = groups.get("volume3")
        found = [("grade", str(grade))]
        if volume:
            found.append(("volume", _VOLUMES[volume]))
        return found
    if kind == "volume":
        return [("volume", _VOLUMES[groups["volume"]])]
    if kind == "unit":
        number = chinese_number(groups["unit"])
        return [("unit", unit_name(number))] if number else []
    return [("stage", groups["stage"])]


@lru_cache(maxsize=2048)
def understand(text: str, skip: frozenset[str] = frozenset()) -> Understanding:
    """The curriculum positions in a query as filters, and the query without them.

    A field named in skip (one the caller already filters on) is left in the text. A field is read
    once (the first mention wins); a query that is nothing but positions keeps no text.
    """
    folded = " ".join(normalize(text).split())
    parts: list[UnderstoodPart] = []
    seen: set[str] = set(skip)
    spans: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(folded):
            if any(start < match.end() and match.start() < end for start, end in spans):
                continue
            found = [(field, value) for field, value in _parts(match, kind) if field not in seen]
            if not found or len(found) < len(_parts(match, kind)):
                continue
            for field, value in found:
                seen.add(field)
                parts.append(UnderstoodPart(text=match.group(), field=field, value=value))
            spans.append(match.span())
    rest = folded
    for start, end in sorted(spans, reverse=True):
        rest = rest[:start] + " " + rest[end:]
    return Understanding(text=" ".join(rest.split()), parts=tuple(parts))


# Whole jieba tokens that ask rather than name what is sought.
_QUESTION_WORDS = """
    怎么 怎样 怎么样 如何 如何才能 怎样才能 怎么才能 什么 什么是 什么叫 为什么 为何 哪些 有哪些 哪个 哪里
    是否 能否 可否 有没有 请问 请教 求 求助 一下 关于
"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())
# Structural particles: titles often do without them (勾股定理的课件 → 勾股定理 课件).
PARTICLES = frozenset(("的", "地", "得", "了", "着", "之"))
# Particles that only end a question.
TRAILING_PARTICLES = frozenset(("吗", "呢", "吧", "啊", "呀", "么", "?", "？"))
# Stop phrases at the end of a query: 朗读的方法 looks for 朗读.
TRAILING_PHRASES = (
    "这一课",
    "这节课",
    "这篇课文",
    "怎么写",
    "怎样写",
    "如何写",
    "怎么上",
    "是多少",
    "的方法",
    "的技巧",
    "的办法",
    "是什么",
    "是啥",
    "怎么办",
    "怎么做",
    "怎么教",
    "的教学方法",
)

# How to teach …: on a platform of teaching resources the verb says nothing (怎样教一年级学生朗读).
_TEACHING_QUESTION = re.compile(r"(?:怎样|怎么|如何)(?:才能)?(?:教好|教|上好|讲好|讲)")
# Stop phrases at the start that jieba cuts apart (什么 是).
LEADING_PHRASES = ("什么是", "什么叫", "请问")


@lru_cache(maxsize=4096)
def without_question_words(text: str, *, particles: bool = True) -> str:
    """The query without question words, particles and stop phrases; unchanged if nothing else is left.

    particles=False keeps the structural particles: for reading the query by its sound, where 的 is a
    syllable of the title's pinyin like any other.
    """
    folded = " ".join(normalize(text).split())
    trimmed = folded
    changed = True
    while changed:
        changed = False
        stripped = trimmed.rstrip("?？!！。.，, ")
        for phrase in TRAILING_PHRASES:
            if stripped.endswith(phrase) and len(stripped) > len(phrase):
                stripped = stripped[: -len(phrase)]
        changed = stripped != trimmed
        trimmed = stripped
    for phrase in LEADING_PHRASES:
        if trimmed.startswith(phrase) and len(trimmed) > len(phrase):
            trimmed = trimmed[len(phrase) :]
            break
    trimmed = _TEACHING_QUESTION.sub(" ", trimmed)
    tokens = cut(trimmed)
    while tokens and (tokens[-1].strip() in TRAILING_PARTICLES or not tokens[-1].strip()):
        tokens.pop()
    # A dropped token leaves a space, so its neighbours are not read as one new word (小鸟的家 → 小鸟 家).
    dropped = QUESTION_WORDS | PARTICLES if particles else QUESTION_WORDS
    kept = [" " if token.strip() in dropped else token for token in tokens]
    rest = " ".join("".join(kept).split())
    return rest if rest.strip() else folded
