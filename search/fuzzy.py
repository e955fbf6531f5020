"""Fuzzy pinyin (模糊音): the sound pairs many speakers do not tell apart, as input methods offer them.

A `FuzzyPinyin` folds each syllable to one spelling per class of sounds that count as the same: with
z/zh, an/ang and en/eng, zheng and zen both fold to zen. Titles' pinyin is indexed folded too (the
`title_fuzzy` field), and a typed word is parsed against every spelling that folds to a real
syllable's fold, so `zenfanxin` and `zhengfangxing` both find 正方形. The pairs are a district setting;
the index records which pairs it was built with (`signature`) and is rewritten when they change.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from search.pinyin import MAX_ALTERNATIVES, SYLLABLES, syllables

# Initials, longest first, so zh is read before z.
_INITIALS = ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw")
# Every pair input methods offer; DEFAULT_PAIRS are the ones they switch on in their common set.
KNOWN_PAIRS = (
    "z=zh",
    "c=ch",
    "s=sh",
    "n=l",
    "f=h",
    "r=l",
    "an=ang",
    "en=eng",
    "in=ing",
    "ian=iang",
    "uan=uang",
)
DEFAULT_PAIRS = ("z=zh", "c=ch", "s=sh", "n=l", "f=h", "an=ang", "en=eng", "in=ing")
_INITIAL_SET = frozenset(_INITIALS)


def split_initial(syllable: str) -> tuple[str, str]:
    for initial in _INITIALS:
        if syllable.startswith(initial) and len(syllable) > len(initial):
            return initial, syllable[len(initial) :]
    return "", syllable


def _classes(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each sound → its class's representative (the alphabetically first), merging chained pairs."""
    parent: dict[str, str] = {}

    def find(sound: str) -> str:
        parent.setdefault(sound, sound)
        while parent[sound] != sound:
            sound = parent[sound]
        return sound

    for left, right in pairs:
        a, b = find(left), find(right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {sound: find(sound) for sound in parent}


@dataclass(frozen=True)
class FuzzyPinyin:
    """The fuzzy pairs in effect, e.g. ("z=zh", "an=ang")."""

    pairs: tuple[str, ...] = DEFAULT_PAIRS
    _cache: dict[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        for pair in self.pairs:
            if pair not in KNOWN_PAIRS:
                raise ValueError(f"unknown fuzzy pinyin pair {pair!r}; use some of {', '.join(KNOWN_PAIRS)}")

    @classmethod
    def parse(cls, setting: str) -> FuzzyPinyin:
        """From a setting: pairs separated by commas ("z=zh,c=ch"), "default", or "" / "none"."""
        cleaned = setting.strip().lower()
        if cleaned == "default":
            return cls()
        if cleaned in ("", "none", "off"):
            return cls(pairs=())
        return cls(pairs=tuple(dict.fromkeys(part.strip() for part in cleaned.split(",") if part.strip())))

    @property
    def signature(self) -> int:
        """A number standing for the pairs, recorded with an index built with them."""
        return zlib.crc32(",".join(sorted(self.pairs)).encode())

    @cached_property
    def _sounds(self) -> tuple[dict[str, str], dict[str, str]]:
        split = [tuple(pair.split("=")) for pair in self.pairs]
        initials = _classes((a, b) for a, b in split if a in _INITIAL_SET)
        finals = _classes((a, b) for a, b in split if a not in _INITIAL_SET)
        return initials, finals

    def fold(self, syllable: str) -> str:
        """A syllable's spelling with every fuzzy sound replaced by its class's (zheng → zen)."""
        if not self.pairs or not syllable.isalpha():
            return syllable
        cached = self._cache.get(syllable)
        if cached is not None:
            return cached
        initials, finals = self._sounds
        initial, final = split_initial(syllable)
        folded = initials.get(initial, initial) + finals.get(final, final)
        self._cache[syllable] = folded
        return folded

    @cached_property
    def typed(self) -> dict[str, str]:
        """Every spelling someone may type for a syllable under these pairs → its fold."""
        initials, finals = self._sounds
        by_initial: dict[str, list[str]] = {}
        for sound, representative in initials.items():
            by_initial.setdefault(representative, []).append(sound)
        by_final: dict[str, list[str]] = {}
        for sound, representative in finals.items():
            by_final.setdefault(representative, []).append(sound)
        table: dict[str, str] = {}
        for syllable in SYLLABLES:
            folded = self.fold(syllable)
            initial, final = split_initial(syllable)
            initial_spellings = by_initial.get(initials.get(initial, initial), [initial])
            final_spellings = by_final.get(finals.get(final, final), [final])
            for spelling in itertools.product(initial_spellings, final_spellings):
                table.setdefault("".join(spelling), folded)
        for typed, indexed in (("lue", "lve"), ("nue", "nve")):
            table.setdefault(typed, self.fold(indexed))
        return table

    @cached_property
    def _longest(self) -> int:
        return max(len(spelling) for spelling in self.typed)

    def split(self, word: str, limit: int = MAX_ALTERNATIVES) -> tuple[tuple[str, ...], ...]:
        """Every way a typed latin word reads as fuzzy syllables, folded, fewest syllables first."""
        word = word.lower()
        if not word.isascii() or not word.isalpha() or len(word) > 64:
            return ()
        table = self.typed
        memo: dict[int, tuple[tuple[str, ...], ...]] = {len(word): ((),)}

        def parses(start: int) -> tuple[tuple[str, ...], ...]:
            if start in memo:
                return memo[start]
            found: list[tuple[str, ...]] = []
            for end in range(min(len(word), start + self._longest), start, -1):
                folded = table.get(word[start:end])
                if folded is None:
                    continue
                found.extend((folded, *rest) for rest in parses(end))
                if len(found) >= 4 * limit:
                    break
            memo[start] = tuple(found)
            return memo[start]

        ranked = sorted(dict.fromkeys(parses(0)), key=len)
        return tuple(ranked[:limit])


DEFAULT_FUZZY = FuzzyPinyin()


def fuzzy_field(text: str, fuzzy: FuzzyPinyin) -> str:
    """Indexed token field: the title's pinyin, each syllable folded (正方形 → zen fan xin)."""
    return " ".join(fuzzy.fold(syllable) for syllable in syllables(text))
