"""Highlighted snippets, computed in Python so both backends return identical ones."""

from __future__ import annotations

import functools
import html
import re

from search.documents import SearchDocument
from search.pinyin import annotate
from search.plan import TextPlan, plan_query
from search.text import normalize

SNIPPET_CHARS = 120
_LATIN = re.compile(r"[0-9a-z]")


def _needles(plan: TextPlan) -> list[str]:
    words: set[str] = {plan.text}
    for alternatives in plan.groups:
        literal, *synonyms = alternatives
        words.update(literal.words)
        words.add(literal.text)
        words.update(synonym.text for synonym in synonyms)
    # Single CJK characters would light up noise; keep them only when the query is one character.
    if len(plan.text) > 1:
        words = {word for word in words if len(word) > 1}
    return sorted((word for word in words if word.strip()), key=len, reverse=True)


@functools.lru_cache(maxsize=256)
def _pattern(needles: tuple[str, ...]) -> re.Pattern[str] | None:
    if not needles:
        return None
    parts = []
    for needle in needles:
        # Latin needles match whole words only, as the index does: unit is not inside community.
        before = r"(?<![0-9a-z])" if _LATIN.match(needle[0]) else ""
        after = r"(?![0-9a-z])" if _LATIN.match(needle[-1]) else ""
        parts.append(before + re.escape(needle) + after)
    return re.compile("|".join(parts))


def _pinyin_spans(haystack: str, plan: TextPlan) -> list[tuple[int, int]]:
    """The characters whose pinyin, initials or fuzzy pinyin the query matched."""
    phrases = [*plan.latin_phrases, *(("title_fuzzy", phrase) for phrase in plan.fuzzy)]
    if not phrases:
        return []
    tokens = annotate(haystack)
    sequences = {
        "title_pinyin": [token.syllable for token in tokens],
        "title_initials": [token.initial for token in tokens],
        "title_fuzzy": [plan.fold.fold(token.syllable) for token in tokens],
    }
    spans = []
    for field, phrase in phrases:
        wanted = phrase.split()
        have = sequences[field]
        for start in range(len(have) - len(wanted) + 1):
            if have[start : start + len(wanted)] == wanted:
                spans.append((tokens[start].start, tokens[start + len(wanted) - 1].end))
    return spans


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight(
    text: str,
    query: str | TextPlan,
    *,
    max_chars: int | None = SNIPPET_CHARS,
    pinyin: bool = False,
) -> str | None:
    """An HTML-escaped excerpt of text around the first match, matches wrapped in <em>.

    max_chars None returns the whole text. With pinyin, characters matched through their pinyin or
    initials by a latin query are highlighted too (titles are the only pinyin-indexed field).
    """
    plan = plan_query(query) if isinstance(query, str) else query
    if not text or plan is None:
        return None
    folded = normalize(text)
    # NFKC can change lengths; fall back to a plain lowercase search when it does.
    haystack = folded if len(folded) == len(text) else text.lower()
    spans: list[tuple[int, int]] = []
    pattern = _pattern(tuple(_needles(plan)))
    if pattern is not None:
        spans.extend(match.span() for match in pattern.finditer(haystack) if match.end() > match.start())
    if pinyin:
        spans.extend(_pinyin_spans(haystack, plan))
    if not spans:
        return None
    spans = _merge(spans)
    if max_chars is None:
        start, end = 0, len(text)
    else:
        start = max(0, spans[0][0] - max_chars // 4)
        end = min(len(text), start + max_chars)
    parts: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for span_start, span_end in spans:
        if span_start >= end:
            break
        span_end = min(span_end, end)
        parts.append(html.escape(text[cursor:span_start]))
        parts.append(f"<em>{html.escape(text[span_start:span_end])}</em>")
        cursor = span_end
    parts.append(html.escape(text[cursor:end]))
    parts.append("…" if end < len(text) else "")
    return "".join(parts)


def hit_highlights(document: SearchDocument, plan: TextPlan | None) -> dict[str, str]:
    """SearchHit.highlights: the whole title and a body snippet, each only when it has a match."""
    return Highlighter(plan).highlights(document.title, document.body)


class Highlighter:
    """The highlights of one query's hits: the pages and cues of a resource carry its title, so each
    distinct title is highlighted once (its pinyin read once), not once per hit."""

    def __init__(self, plan: TextPlan | None) -> None:
        self.plan = plan
        self._titles: dict[str, str | None] = {}

    def body(self, text: str) -> str | None:
        return highlight(text, self.plan) if self.plan is not None else None

    def highlights(self, title: str, body: str) -> dict[str, str]:
        if self.plan is None:
            return {}
        if title not in self._titles:
            self._titles[title] = highlight(title, self.plan, max_chars=None, pinyin=True)
        found = {"title": self._titles[title], "body": self.body(body)}
        return {field: snippet for field, snippet in found.items() if snippet is not None}
