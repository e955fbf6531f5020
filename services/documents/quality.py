"""Whether extracted text is text a person could read, or garbage a broken font mapping produced.

PDFs from older Chinese office suites often carry fonts without a usable Unicode mapping. Readers
then emit control characters, private-use code points, glyph names (`/g18/g152`), replacement
characters, or legacy-encoded bytes read as UTF-16, which look like a random mix of rare Han,
Hangul and Yi. Such text must never be indexed or shown in a snippet; the page is OCR'd instead.

The score of a text is the share of its visible characters that are junk: unambiguous junk
(control, private-use, unassigned, replacement characters, glyph-name tokens) plus characters that
are implausible for the text (rare Han, Hangul outside the common repertoire, scripts that make up
a minority of the text though no school document mixes them like that).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache

# A page with more junk than this is garbage as a whole: nothing of it is kept.
GARBAGE_THRESHOLD = 0.25
# A script other than Latin, Han and the common ones is plausible only where it dominates the text.
DOMINANT_SHARE = 0.6

# `/g18/g152`, `/uni4E2D`, `/cid123` (glyph names some extractors print for unmapped glyphs), and
# pdfminer's `(cid:123)`.
GLYPH_NAME_TOKENS = re.compile(
    r"(?:/[A-Za-z]{0,8}[0-9A-Fa-f]{1,6}){2,}|(?<!\S)/[A-Za-z]{1,8}\d{1,6}(?!\S)|\(cid:\d+\)"
)
_JUNK_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_KEPT_CONTROLS = frozenset("\n\t")

# Blocks whose characters are ordinary in any school document: Latin, Greek and Cyrillic (maths,
# languages), punctuation, symbols, CJK punctuation, kana, bopomofo, full-width forms, emoji.
_COMMON_RANGES = (
    (0x0000, 0x02FF),
    (0x0300, 0x036F),
    (0x0370, 0x052F),
    (0x1D00, 0x1DBF),
    (0x1E00, 0x1FFF),
    (0x2000, 0x2BFF),
    (0x2E00, 0x2E7F),
    (0x2E80, 0x2FDF),
    (0x3000, 0x33FF),
    (0xFE10, 0xFE6F),
    (0xFF00, 0xFFEF),
    (0x1D400, 0x1D7FF),
    (0x1F000, 0x1FAFF),
)
_HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF))
_HANGUL_RANGES = ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))


@dataclass(frozen=True)
class Quality:
    score: float
    # The text without its unambiguous junk (what is indexed when the text is usable).
    cleaned: str

    @property
    def usable(self) -> bool:
        return self.score <= GARBAGE_THRESHOLD and bool(self.cleaned.strip())


def _in(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


@cache
def _common_han(char: str) -> bool:
    """In GB2312 (the 6763 characters of simplified Chinese in daily use) or Big5's frequent set."""
    try:
        char.encode("gb2312")
        return True
    except UnicodeEncodeError:
        pass
    try:
        encoded = char.encode("big5")
    except UnicodeEncodeError:
        return False
    # Big5 puts its 5401 frequent characters at lead bytes 0xA4..0xC6.
    return 0xA4 <= encoded[0] <= 0xC6


@cache
def _common_hangul(char: str) -> bool:
    """In KS X 1001's 2350 syllables: those real Korean text is made of."""
    try:
        # Python's codec spells the other syllables as 8-byte jamo sequences; KS X 1001's take 2.
        return len(char.encode("euc-kr")) == 2
    except UnicodeEncodeError:
        return False


def _is_junk(char: str) -> bool:
    if char in _KEPT_CONTROLS:
        return False
    return char == "\ufffd" or unicodedata.category(char) in _JUNK_CATEGORIES


def clean(text: str) -> str:
    """``text`` without glyph-name tokens and control, format, private-use or replacement characters."""
    text = GLYPH_NAME_TOKENS.sub(" ", text)
    return "".join(" " if _is_junk(char) else char for char in text)


def _bucket(char: str) -> str:
    code = ord(char)
    if _in(code, _HAN_RANGES):
        return "han" if _common_han(char) else "rare"
    if _in(code, _HANGUL_RANGES):
        return "hangul" if _common_hangul(char) else "rare"
    if _in(code, _COMMON_RANGES):
        return "common"
    # Any other script: named by its block, roughly (128 code points).
    return f"script-{code >> 7:x}"


@cache
def _classify(char: str) -> str:
    """ "space", "junk" or the character's bucket; cached, as a page repeats its characters."""
    if char.isspace():
        return "space"
    return "junk" if _is_junk(char) else _bucket(char)


def assess(text: str) -> Quality:
    glyph_chars = sum(len(match.group()) for match in GLYPH_NAME_TOKENS.finditer(text))
    counts = Counter(_classify(char) for char in GLYPH_NAME_TOKENS.sub(" ", text))
    visible = sum(count for name, count in counts.items() if name != "space") + glyph_chars
    if not visible:
        return Quality(score=0.0, cleaned="")
    junk = counts.pop("junk", 0)
    counts.pop("space", None)
    letters = sum(counts.values()) or 1
    implausible = counts["rare"]
    for name, count in counts.items():
        if (name == "hangul" or name.startswith("script-")) and count / letters < DOMINANT_SHARE:
            implausible += count
    score = (glyph_chars + junk + implausible) / visible
    return Quality(score=round(score, 3), cleaned=clean(text))


def is_garbage(text: str) -> bool:
    return not assess(text).usable
