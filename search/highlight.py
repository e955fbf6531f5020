"""Highlighted snippets, computed in Python so both backends return identical ones."""

from __future__ import annotations

import html
import re

from search.text import normalize, query_words

SNIPPET_CHARS = 120


def _needles(query: str) -> list[str]:
    words = set(query_words(query))
    stripped = normalize(query).strip()
    if stripped:
        words.add(stripped)
    # Single CJK characters would light up noise; keep them only when the query is one character.
    if len(stripped) > 1:
        words = {word for word in words if len(word) > 1}
    return sorted(words, key=len, reverse=True)


def highlight(text: str, query: str, *, max_chars: int = SNIPPET_CHARS) -> str | None:
    """Return an HTML-escaped excerpt of text around the first match, matches wrapped in <em>."""
    if not text or not query.strip():
        return None
    needles = _needles(query)
    if not needles:
        return None
    folded = normalize(text)
    # NFKC can change lengths; fall back to a plain lowercase search when it does.
    haystack = folded if len(folded) == len(text) else text.lower()
    pattern = re.compile("|".join(re.escape(needle) for needle in needles))
    first = pattern.search(haystack)
    if first is None:
        return None
    start = max(0, first.start() - max_chars // 4)
    end = min(len(text), start + max_chars)
    parts: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for match in pattern.finditer(haystack, start, end):
        parts.append(html.escape(text[cursor : match.start()]))
        parts.append(f"<em>{html.escape(text[match.start() : match.end()])}</em>")
        cursor = match.end()
    parts.append(html.escape(text[cursor:end]))
    parts.append("…" if end < len(text) else "")
    return "".join(parts)
