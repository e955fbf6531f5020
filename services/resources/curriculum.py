"""The curriculum vocabulary resources are filed under, so facets count one name per thing.

Teachers write 人民教育出版社, 人教 or 人教版 for the same textbook; everything is stored under one
canonical name, and the search synonyms cover the rest at query time. Editions have one table, in
search.synonyms, used both for filing resources and for normalizing search filters.
"""

from __future__ import annotations

import unicodedata

# Re-exported: schemas file editions under the canonical names search also uses.
from search.synonyms import normalize_edition as normalize_edition

STAGES = ("小学", "初中", "高中")

SUBJECTS = (
    "语文",
    "数学",
    "英语",
    "物理",
    "化学",
    "生物",
    "历史",
    "地理",
    "道德与法治",
    "思想政治",
    "科学",
    "信息科技",
    "音乐",
    "美术",
    "艺术",
    "体育与健康",
    "劳动",
    "综合实践活动",
    "心理健康",
    "书法",
    "通用技术",
    "日语",
    "俄语",
)

SUBJECT_ALIASES = {
    "道法": "道德与法治",
    "思想品德": "道德与法治",
    "品德与社会": "道德与法治",
    "政治": "思想政治",
    "信息技术": "信息科技",
    "体育": "体育与健康",
    "生物学": "生物",
    "心理": "心理健康",
}

VOLUMES = (
    "上册",
    "下册",
    "全一册",
    "必修第一册",
    "必修第二册",
    "必修第三册",
    "选择性必修第一册",
    "选择性必修第二册",
    "选择性必修第三册",
    "选择性必修第四册",
)
VOLUME_ALIASES = {"上": "上册", "下": "下册", "全册": "全一册"}


def _clean(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def stage_for_grade(grade: int) -> str:
    """小学 for grades 1–6, 初中 for 7–9, 高中 for 10–12 (the 6-3-3 system)."""
    if not 1 <= grade <= 12:
        raise ValueError("grade must be between 1 and 12")
    return STAGES[0] if grade <= 6 else STAGES[1] if grade <= 9 else STAGES[2]


# canonical_*: the stored spelling of a name, for filters (list and search); a name that is not in
# the vocabulary comes back cleaned, and simply matches nothing. normalize_*: the same for values
# being stored, where an unknown name is an error.


def canonical_subject(value: str) -> str:
    cleaned = _clean(value)
    return SUBJECT_ALIASES.get(cleaned, cleaned)


def canonical_volume(value: str) -> str:
    cleaned = _clean(value)
    return VOLUME_ALIASES.get(cleaned, cleaned)


def normalize_subject(value: str) -> str:
    subject = canonical_subject(value)
    if subject not in SUBJECTS:
        raise ValueError(f"unknown subject {_clean(value)!r}; use one of {'、'.join(SUBJECTS)}")
    return subject


def normalize_volume(value: str) -> str:
    volume = canonical_volume(value)
    if volume not in VOLUMES:
        raise ValueError(f"unknown volume {_clean(value)!r}; use one of {'、'.join(VOLUMES)}")
    return volume
