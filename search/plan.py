"""What a query's text asks for, worked out once in Python; each backend renders the same plan.

Question words and particles are dropped from what must match (search.understand). A document
matches when any of these holds:

* every query word (or one of its synonyms) occurs in its title or body, as jieba words or as a
  character phrase;
* its title's pinyin contains one of the query's syllable phrases: a latin query's (shuhexique), a
  mixed query's (sima光 → si ma guang), or, when homophones are asked for, a Chinese query's own
  pinyin (瀑不 → pu bu, so a homophone typo finds 瀑布);
* its title's initials contain a letters-only query as a phrase;
* its title's fuzzy pinyin (search.fuzzy) contains the query's folded syllables (zenfanxin → 正方形).

Matches are ranked by tier first, then by BM25 within a tier (see `Tier`): exact Chinese above
pinyin-equal above fuzzy. Grouped by parent, a parent's own document (its resource or post) ranks
above its pages and cues of the same tier (see `OWN_DOCUMENT_WEIGHT`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from search.fuzzy import DEFAULT_FUZZY, FuzzyPinyin
from search.pinyin import latin_syllable_phrases, query_initials, query_pinyin, query_syllable_phrases
from search.synonyms import expand_query
from search.text import chars_field, normalize, query_words
from search.understand import without_question_words

# Longer queries are cut here, so a hit's BM25 stays below one tier's weight.
MAX_GROUPS = 16
# A tier outweighs any BM25 score; scores are tier * TIER_WEIGHT + BM25.
TIER_WEIGHT = 10_000.0
# Under group_by_parent with relevance, a parent's own document (search.documents.OWN_DOCUMENT_KINDS,
# not a page or cue inside it) adds OWN_DOCUMENT_WEIGHT to its score: less than a tier, more than any
# BM25. Pages and cues carry their resource's title, so a query matching the title matches every one
# of them in the same tier as the resource, and BM25 alone (shorter bodies score higher) would often
# make some page or cue, not the resource, the group's hit.
OWN_DOCUMENT_WEIGHT = TIER_WEIGHT / 2
# 优秀课例 and featured resources (services/showcase) rank above others of their tier under relevance
# with a query: each level adds its weight, featuring FEATURED_WEIGHT. Together far less than
# OWN_DOCUMENT_WEIGHT (so a resource's own document still leads its pages) and than a tier (an exact
# title still beats an exemplary lesson that mentions the words), more than BM25 differences within a
# tier. Browsing without a query keeps its order (newest), so it can still be read off an index.
EXEMPLARY_WEIGHTS = {"school": 300.0, "district": 600.0, "city": 900.0}
EXEMPLARY_LEVELS = tuple(EXEMPLARY_WEIGHTS)
FEATURED_WEIGHT = 300.0


class Tier(IntEnum):
    """The best thing a hit's match has; the highest that applies wins."""

    other = 0  # the words are somewhere (in the body, or split between title and body)
    pinyin_fuzzy = 1  # the title's fuzzy pinyin contains the query's (模糊音)
    body_phrase = 2  # the whole query, as typed, inside the body
    pinyin = 3  # the title's pinyin or initials contain the query's syllables or letters
    pinyin_exact = 4  # the title's whole pinyin or initials are the query's
    title_words = 5  # every query word (or a synonym) in the title
    title_phrase = 6  # the whole query, as typed, inside the title
    title_exact = 7  # the title is the query (ignoring punctuation, spacing and case)


@dataclass(frozen=True)
class Alternative:
    """One way to satisfy a query word: the word itself or one of its synonyms."""

    text: str
    words: tuple[str, ...]  # jieba words, all required, against the word fields
    chars: str  # or a phrase against the character fields


@dataclass(frozen=True)
class TextPlan:
    text: str
    # The whole query as a character phrase.
    chars: str
    # Every group must match; any alternative of a group does.
    groups: tuple[tuple[Alternative, ...], ...]
    # Syllable phrases against the title's pinyin (latin and mixed queries; Chinese ones with homophones).
    pinyin: tuple[str, ...]
    # An initials phrase against the title's initials (letters-only queries only).
    initials: str | None
    # Folded syllable phrases against the title's fuzzy pinyin.
    fuzzy: tuple[str, ...] = ()
    fold: FuzzyPinyin = DEFAULT_FUZZY

    @property
    def latin_phrases(self) -> tuple[tuple[str, str], ...]:
        """(field, phrase) pairs for the pinyin fields: ("title_pinyin" | "title_initials", phrase)."""
        pairs = [("title_pinyin", phrase) for phrase in self.pinyin]
        if self.initials:
            pairs.append(("title_initials", self.initials))
        return tuple(pairs)


def _alternative(text: str) -> Alternative:
    return Alternative(text=text, words=query_words(text), chars=chars_field(text))


def plan_query(
    text: str,
    synonym_groups: Sequence[Sequence[str]] = (),
    *,
    fuzzy: FuzzyPinyin = DEFAULT_FUZZY,
    homophones: bool = False,
) -> TextPlan | None:
    """The plan for a query's text, or None when it has nothing to search for."""
    content = without_question_words(text)
    groups: list[tuple[Alternative, ...]] = []
    for alternatives in expand_query(content, synonym_groups)[:MAX_GROUPS]:
        usable = tuple(
            alternative
            for alternative in (_alternative(term) for term in alternatives)
            if alternative.words and alternative.chars
        )
        if usable:
            groups.append(usable)
    if not groups:
        return None
    sounds = without_question_words(text, particles=False)
    pinyin = query_pinyin(text) or query_syllable_phrases(sounds, homophones=homophones)
    folded: tuple[str, ...] = ()
    if fuzzy.pairs:
        folded = latin_syllable_phrases(text, fuzzy.split) or query_syllable_phrases(
            sounds, homophones=homophones, split=fuzzy.split, fold=fuzzy.fold
        )
    return TextPlan(
        text=" ".join(normalize(text).split()),
        chars=chars_field(text),
        groups=tuple(groups),
        pinyin=pinyin,
        initials=query_initials(text),
        fuzzy=folded,
        fold=fuzzy,
    )
