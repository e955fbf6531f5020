"""Chinese-first text analysis, done in Python so every search backend sees identical tokens.

Each text is indexed twice: as jieba words (search mode, so 一年级 also yields 一年 and 年级) and as
single characters / latin words (so any single character and exact phrases match).

Words are cut by jieba-rs (the `rjieba` binding): the same dictionary and algorithm as Python's jieba,
about 15 times faster and in half the memory. On real text its tokens are jieba's, token for token
(tests/search/test_segmenter.py; bench/README.md lists the only differences, on random noise).

Traditional characters are folded to Simplified first (OpenCC's t2s, phrase by phrase: 乾燥 → 干燥 but
乾隆 stays), at index and query time alike, so 數學 and 数学 find each other. Hits keep their stored
text; only the tokens are folded.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Protocol, cast

from anyio import to_thread

_segmenter_lock = threading.Lock()
_segmenter: Segmenter | None = None

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CHAR = re.compile(f"[{_CJK}]")
# A CJK character, or a run of latin letters/digits.
CHAR_TOKEN = re.compile(rf"[{_CJK}]|[0-9a-z]+")
# Tokens carry only CJK, latin letters and digits, so any backend's whitespace tokenizer keeps them whole.
WORD_PART = re.compile(rf"[{_CJK}0-9a-z]+")


class Segmenter(Protocol):
    def cut(self, text: str) -> list[str]: ...

    def cut_for_search(self, text: str) -> list[str]: ...


def _load_segmenter() -> Segmenter:
    global _segmenter
    if _segmenter is not None:
        return _segmenter
    with _segmenter_lock:
        if _segmenter is None:
            # Imported here: the dictionary (33 MiB) is built on import, and a process that never
            # analyses text (an idle API, the CLI) should not carry it.
            import rjieba

            _segmenter = cast(Segmenter, rjieba)
    return _segmenter


def use_segmenter(segmenter: Segmenter | None) -> None:
    """Cut with another segmenter (None: back to rjieba); benches compare Python's jieba with it."""
    global _segmenter
    with _segmenter_lock:
        _segmenter = segmenter
    query_words.cache_clear()


async def load_dictionary() -> None:
    """Load the word dictionary (a fraction of a second) in a thread, so no query or write pays for
    it on the event loop."""
    await to_thread.run_sync(_load_segmenter)


_converters = threading.local()


def to_simplified(text: str) -> str:
    """Traditional → Simplified by OpenCC's phrase tables; Simplified text comes back unchanged."""
    if not CJK_CHAR.search(text):
        return text
    # One converter per thread: the C++ converter is not documented as thread-safe.
    converter = getattr(_converters, "t2s", None)
    if converter is None:
        # Imported here: a process that never folds text (an idle API) need not load it.
        import opencc

        converter = _converters.t2s = opencc.OpenCC("t2s")
    converted: str = converter.convert(text)
    return converted


def _latin_folding_table() -> dict[int, str]:
    """Latin letters with diacritics to their base letters (é → e, ü → u, ā → a), one for one.

    Only letters that decompose into one base letter plus combining marks are folded, so lengths
    never change (highlighting maps offsets back); ß, æ, ø stay. Combining marks left over from
    decomposed input are dropped. Pinyin keys already fold tone marks the same way.
    """
    table: dict[int, str] = {code: "" for code in range(0x0300, 0x0370)}
    for code in [*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)]:
        base = "".join(
            char for char in unicodedata.normalize("NFD", chr(code)) if not unicodedata.combining(char)
        )
        if len(base) == 1 and base != chr(code) and base.isascii():
            table[code] = base
    return table


_LATIN_FOLDING = _latin_folding_table()


@lru_cache(maxsize=8)
def normalize(text: str) -> str:
    # Cached for the few texts in hand (a body can be megabytes, so only a few): a document's title and
    # body are each normalized for every field made of them (words, characters, pinyin, initials, fuzzy
    # pinyin), a third of the analysis once segmenting took rjieba's time (bench/README.md).
    # NFKC folds full-width latin and digits (ＡＢＣ１２３) into their ASCII forms; Traditional script is
    # folded to Simplified; accents on latin letters are folded away so événements, Événements and
    # evenements are one word.
    return to_simplified(unicodedata.normalize("NFKC", text)).lower().translate(_LATIN_FOLDING)


def word_tokens(text: str) -> list[str]:
    segmenter = _load_segmenter()
    return [part for token in segmenter.cut_for_search(normalize(text)) for part in WORD_PART.findall(token)]


def char_tokens(text: str) -> list[str]:
    return CHAR_TOKEN.findall(normalize(text))


def words_field(text: str) -> str:
    return " ".join(word_tokens(text))


def chars_field(text: str) -> str:
    return " ".join(char_tokens(text))


def has_cjk(text: str) -> bool:
    return CJK_CHAR.search(text) is not None


def cut(text: str) -> list[str]:
    """jieba's precise cut of already normalized text, separators included."""
    return _load_segmenter().cut(text)


@lru_cache(maxsize=4096)
def query_words(text: str) -> tuple[str, ...]:
    """Query words: jieba's precise cut, so a query word is one the indexed text also yields."""
    seen: dict[str, None] = {}
    for token in cut(normalize(text)):
        for part in WORD_PART.findall(token):
            seen.setdefault(part, None)
    return tuple(seen)
