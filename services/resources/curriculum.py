"""The curriculum vocabulary resources are filed under, so facets count one name per thing.

Teachers write 人民教育出版社, 人教 or 人教版 for the same textbook; everything is stored under one
canonical name, and the search synonyms cover the rest at query time.
"""

from __future__ import annotations

import unicodedata

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

EDITION_ALIASES: dict[str, tuple[str, ...]] = {
    "人教版": ("人民教育出版社", "人教", "人教社", "人民教育版"),
    "部编版": ("统编版", "统编", "部编", "教育部统编版"),
    "北师大版": ("北京师范大学出版社", "北师大", "北师版"),
    "苏教版": ("江苏教育出版社", "江苏凤凰教育出版社", "苏教"),
    "外研版": ("外语教学与研究出版社", "外研社", "外研"),
    "沪教版": ("上海教育出版社", "沪教"),
    "湘教版": ("湖南教育出版社", "湘教"),
    "冀教版": ("河北教育出版社", "冀教"),
    "青岛版": ("青岛出版社",),
    "浙教版": ("浙江教育出版社", "浙教"),
    "鲁教版": ("山东教育出版社", "鲁教"),
    "译林版": ("译林出版社", "译林"),
    "华师大版": ("华东师范大学出版社", "华师大"),
    "沪科版": ("上海科学技术出版社", "沪科"),
    "教科版": ("教育科学出版社", "教科"),
    "西师大版": ("西南师范大学出版社", "西师大"),
    "大象版": ("大象出版社",),
    "科粤版": ("科学普及出版社广州分社",),
    "仁爱版": ("仁爱科普版", "科学普及出版社"),
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

_EDITION_BY_ALIAS = {
    _alias: canonical for canonical, aliases in EDITION_ALIASES.items() for _alias in (canonical, *aliases)
}


def _clean(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def stage_for_grade(grade: int) -> str:
    """小学 for grades 1–6, 初中 for 7–9, 高中 for 10–12 (the 6-3-3 system)."""
    if not 1 <= grade <= 12:
        raise ValueError("grade must be between 1 and 12")
    return STAGES[0] if grade <= 6 else STAGES[1] if grade <= 9 else STAGES[2]


def normalize_subject(value: str) -> str:
    cleaned = _clean(value)
    subject = SUBJECT_ALIASES.get(cleaned, cleaned)
    if subject not in SUBJECTS:
        raise ValueError(f"unknown subject {cleaned!r}; use one of {'、'.join(SUBJECTS)}")
    return subject


def normalize_edition(value: str) -> str:
    """The canonical name for a known edition; other (regional) editions are kept as written."""
    cleaned = _clean(value)
    return _EDITION_BY_ALIAS.get(cleaned, cleaned)


def normalize_volume(value: str) -> str:
    cleaned = _clean(value)
    volume = VOLUME_ALIASES.get(cleaned, cleaned)
    if volume not in VOLUMES:
        raise ValueError(f"unknown volume {cleaned!r}; use one of {'、'.join(VOLUMES)}")
    return volume
