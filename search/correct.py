"""Did you mean (你要找的是不是…): a correction for a query that finds little, worked out in Python from
the hits and the vocabulary, so both backends offer the same one.

The titles of the best hits are searched for the query's syllables (its pinyin, then its fuzzy
pinyin, as search.plan matched them): the characters found there are what the query meant (望庐山瀑不
→ 望庐山瀑布, sima光 → 司马光). Failing that, a vocabulary term (the synonym groups: editions, subjects,
resource words) sounding like part of the query replaces that part (人交版 → 人教版).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from search.fuzzy import FuzzyPinyin
from search.pinyin import annotate
from search.plan import plan_query
from search.text import CJK_CHAR, normalize
from search.understand import without_question_words

if TYPE_CHECKING:
    from search.documents import SearchHit

# How many of the best hits are read for a correction.
CORRECTION_HITS = 5


def _find(sequence: list[str], phrase: list[str]) -> int | None:
    for start in range(len(sequence) - len(phrase) + 1):
        if sequence[start : start + len(phrase)] == phrase:
            return start
    return None


def _from_titles(content: str, hits: Sequence[SearchHit], fuzzy: FuzzyPinyin) -> str | None:
    plan = plan_query(content, fuzzy=fuzzy, homophones=True)
    if plan is None:
        return None
    for hit in hits[:CORRECTION_HITS]:
        title = normalize(hit.document.title)
        if len(title) != len(hit.document.title):
            continue
        tokens = annotate(title)
        readings = (
            ([token.syllable for token in tokens], plan.pinyin),
            ([fuzzy.fold(token.syllable) for token in tokens], plan.fuzzy),
        )
        for sequence, phrases in readings:
            for phrase in phrases:
                wanted = phrase.split()
                start = _find(sequence, wanted)
                if start is not None:
                    end = start + len(wanted) - 1
                    return hit.document.title[tokens[start].start : tokens[end].end]
    return None


def _from_vocabulary(content: str, vocabulary: Sequence[Sequence[str]], fuzzy: FuzzyPinyin) -> str | None:
    tokens = annotate(content)
    folded = [fuzzy.fold(token.syllable) for token in tokens]
    for group in vocabulary:
        for term in group:
            reading = _term_reading(term, fuzzy)
            if reading is None:
                continue
            normalized, syllables = reading
            start = _find(folded, list(syllables))
            if start is None:
                continue
            end = tokens[start + len(syllables) - 1].end
            if content[tokens[start].start : end] != normalized:
                return content[: tokens[start].start] + term + content[end:]
    return None


@functools.lru_cache(maxsize=8192)
def _term_reading(term: str, fuzzy: FuzzyPinyin) -> tuple[str, tuple[str, ...]] | None:
    """A vocabulary term's normalized text and folded syllables; None unless it is two or more Chinese
    characters. The same for the same term, so worked out once per process, not for every term of
    the vocabulary on every search that finds little (it was a tenth of such a search's CPU)."""
    normalized = normalize(term)
    term_tokens = annotate(normalized)
    if len(term_tokens) < 2 or not all(CJK_CHAR.fullmatch(token.text) for token in term_tokens):
        return None
    return normalized, tuple(fuzzy.fold(token.syllable) for token in term_tokens)


def did_you_mean(
    text: str, hits: Sequence[SearchHit], fuzzy: FuzzyPinyin, vocabulary: Sequence[Sequence[str]] = ()
) -> str | None:
    """A corrected query, or None when there is nothing better to offer than what was typed."""
    typed = " ".join(normalize(text).split())
    content = without_question_words(text, particles=False)
    found = _from_titles(content, hits, fuzzy)
    if found is None or normalize(found) == content:
        found = _from_vocabulary(content, vocabulary, fuzzy)
    if found is None or normalize(found) == content:
        return None
    return typed.replace(content, found) if content in typed else found
