"""Synonyms, applied at query time so the district can change them without reindexing.

A synonym group is a list of terms that mean the same thing (人教版 = 人民教育出版社 = 人教). The
built-in groups below cover textbook editions, renamed subjects and everyday resource words; the
caller merges them with the district's own groups (`merge_groups`) and passes the result in
`SearchQuery.synonym_groups`. A query word found in a group matches any term of that group.

`normalize_edition` maps an edition's aliases to its canonical name, for storing resources uniformly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from search.text import WORD_PART, cut, normalize

# Textbook editions; the first term of each group is the canonical edition name. Kept the same as
# services/resources/curriculum.py, which files resources under these names.
EDITION_GROUPS: tuple[tuple[str, ...], ...] = (
    ("人教版", "人民教育出版社", "人教", "人教社", "人民教育版"),
    # 统编 is the national name since 2019; 部编 is what most teachers still say.
    ("部编版", "统编版", "统编", "部编", "教育部统编版"),
    ("北师大版", "北京师范大学出版社", "北师大", "北师版"),
    ("苏教版", "江苏教育出版社", "江苏凤凰教育出版社", "苏教"),
    ("外研版", "外语教学与研究出版社", "外研社", "外研"),
    ("沪教版", "上海教育出版社", "沪教"),
    ("湘教版", "湖南教育出版社", "湘教"),
    ("冀教版", "河北教育出版社", "冀教"),
    ("青岛版", "青岛出版社"),
    ("浙教版", "浙江教育出版社", "浙教"),
    ("鲁教版", "山东教育出版社", "鲁教"),
    ("译林版", "译林出版社", "译林"),
    ("华师大版", "华东师范大学出版社", "华师大"),
    ("沪科版", "上海科学技术出版社", "沪科"),
    ("教科版", "教育科学出版社", "教科"),
    ("西师大版", "西南师范大学出版社", "西师大"),
    ("大象版", "大象出版社"),
    ("科粤版", "科学普及出版社广州分社"),
    ("仁爱版", "仁爱科普版", "科学普及出版社"),
)

# Subjects under their current and former names.
SUBJECT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("道德与法治", "道法", "思想品德", "品德与社会", "品德与生活"),
    ("思想政治", "政治"),
    ("信息科技", "信息技术"),
    ("体育与健康", "体育"),
    ("生物", "生物学"),
    ("心理健康", "心理健康教育", "心理"),
    ("综合实践活动", "综合实践"),
    ("劳动", "劳动教育"),
)

# Words teachers use interchangeably for the same kind of resource.
RESOURCE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("微课", "微视频"),
    ("课件", "ppt", "幻灯片"),
    ("教案", "教学设计"),
    ("作业设计", "作业"),
    ("学案", "导学案"),
    ("课例", "课堂实录", "录像课"),
    ("说课", "说课稿"),
    ("试卷", "测试卷", "试题"),
    ("单元测试", "单元检测"),
    ("教学反思", "课后反思"),
)


def default_synonym_groups() -> list[list[str]]:
    """The built-in groups, freshly copied so the caller may extend them."""
    return [list(group) for group in (*EDITION_GROUPS, *SUBJECT_GROUPS, *RESOURCE_GROUPS)]


def term_key(term: str) -> str:
    """How terms are compared: NFKC, lower case, whitespace collapsed (PPT = ｐｐｔ = ppt)."""
    return " ".join(normalize(term).split())


def merge_groups(*sources: Iterable[Iterable[str]]) -> list[list[str]]:
    """One list of groups from several sources; groups sharing a term become one group.

    Terms keep the spelling and the order they were first seen in; duplicates, blank terms and groups
    left with fewer than two terms are dropped.
    """
    parent: dict[str, str] = {}
    spelling: dict[str, str] = {}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for source in sources:
        for group in source:
            keys: list[str] = []
            for term in group:
                key = term_key(term)
                if not key:
                    continue
                if key not in parent:
                    parent[key] = key
                    spelling[key] = " ".join(term.split())
                keys.append(key)
            for key in keys[1:]:
                first, other = find(keys[0]), find(key)
                if first != other:
                    parent[other] = first
    merged: dict[str, list[str]] = {}
    for key in parent:  # dicts keep insertion order: first-seen order
        merged.setdefault(find(key), []).append(spelling[key])
    return [terms for terms in merged.values() if len(terms) >= 2]


@lru_cache(maxsize=1)
def _editions() -> dict[str, str]:
    """Built on first use, not at import: term keys load OpenCC's converter (~4 MiB, issue 19)."""
    return {term_key(term): group[0] for group in EDITION_GROUPS for term in group}


def normalize_edition(value: str) -> str:
    """The canonical edition name for an alias (人民教育出版社 → 人教版); others come back NFKC-trimmed."""
    cleaned = unicodedata.normalize("NFKC", value).strip()
    return _editions().get(term_key(cleaned), cleaned)


GroupsKey = tuple[tuple[str, ...], ...]


def groups_key(groups: Sequence[Sequence[str]]) -> GroupsKey:
    return tuple(tuple(group) for group in groups)


@lru_cache(maxsize=64)
def expansions(groups: GroupsKey) -> dict[str, tuple[str, ...]]:
    """Each term's key → every key of its group, itself first."""
    table: dict[str, tuple[str, ...]] = {}
    for group in merge_groups(groups):
        keys = tuple(dict.fromkeys(term_key(term) for term in group))
        for key in keys:
            table[key] = (key, *(other for other in keys if other != key))
    return table


# A synonym term spans at most this many of jieba's tokens (外语 教学 与 研究 出版社 …).
_MAX_SPAN = 8


def expand_query(text: str, groups: Sequence[Sequence[str]] = ()) -> list[tuple[str, ...]]:
    """The query's words in order, each as its alternatives: the word itself first, then its synonyms.

    Without groups this is search.text.query_words, one alternative each. A synonym term is recognized
    when it is made of whole jieba tokens of the query, so 道法 is found in 道法 课件 but not inside
    知道法律.
    """
    table = expansions(groups_key(groups)) if groups else {}
    tokens = cut(normalize(text))
    found: dict[str, tuple[str, ...]] = {}
    index = 0
    while index < len(tokens):
        if table and not tokens[index].isspace():
            matched = None
            for end in range(min(len(tokens), index + _MAX_SPAN), index, -1):
                if tokens[end - 1].isspace():
                    continue
                key = term_key("".join(tokens[index:end]))
                if key in table:
                    matched = end, table[key]
                    break
            if matched is not None:
                end, alternatives = matched
                found.setdefault(alternatives[0], alternatives)
                index = end
                continue
        for part in WORD_PART.findall(tokens[index]):
            found.setdefault(part, (part,))
        index += 1
    return list(found.values())
