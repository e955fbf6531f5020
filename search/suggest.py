"""Autocomplete keys, computed in Python so both backends store and match identical strings.

A title is completed from what its start, or the start of any later segment of it (after a space or
punctuation), looks like when typed: in Chinese (树和 → 树和喜鹊), as joined pinyin (shuhe, shuhexi) or
as joined initials (shx). The key for the title's own start in Chinese is the head: a prefix of the
head ranks above every other kind of match. Then the most popular come first, then the shortest title
(the closest completion: 树和喜鹊 before 树和喜鹊 第二课时), then the newest.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.documents import DocKind
from search.pinyin import annotate, typed_pinyin
from search.text import WORD_PART, has_cjk, normalize

# Keys and typed prefixes are cut at this length, so keys stay small and comparable.
KEY_CHARS = 64
# Segments after this many are not completed.
MAX_SEGMENTS = 8
# Only what a person would open from a suggestion: resources and research posts.
SUGGEST_KINDS = (DocKind.resource, DocKind.post)
HEAD_TIER = 2
OTHER_TIER = 1


@dataclass(frozen=True)
class SuggestKeys:
    head: str
    others: tuple[str, ...]

    @property
    def length(self) -> int:
        """Ranks shorter titles first among equally popular ones."""
        return len(self.head)


def title_key(title: str) -> str:
    """NFKC, lower case, whitespace collapsed: also how suggestions are deduplicated."""
    return " ".join(normalize(title).split())[:KEY_CHARS]


def suggest_keys(title: str) -> SuggestKeys:
    folded = " ".join(normalize(title).split())
    head = folded[:KEY_CHARS]
    tokens = annotate(folded)
    starts = [match.start() for match in WORD_PART.finditer(folded)][:MAX_SEGMENTS]
    others: dict[str, None] = {}
    for start in starts:
        if start > 0:
            others.setdefault(folded[start:][:KEY_CHARS], None)
        rest = [token for token in tokens if token.start >= start]
        others.setdefault("".join(token.syllable for token in rest)[:KEY_CHARS], None)
        others.setdefault("".join(token.initial for token in rest)[:KEY_CHARS], None)
    others.pop(head, None)
    others.pop("", None)
    return SuggestKeys(head=head, others=tuple(others))


@dataclass(frozen=True)
class SuggestPrefixes:
    text: str  # against the head and the other keys
    pinyin: str | None  # latin prefixes only, joined: against the other keys


def suggest_prefixes(prefix: str) -> SuggestPrefixes | None:
    text = title_key(prefix)
    if not text:
        return None
    pinyin = None if has_cjk(text) else typed_pinyin(text)[:KEY_CHARS] or None
    if pinyin == text:
        pinyin = None
    return SuggestPrefixes(text=text, pinyin=pinyin)
