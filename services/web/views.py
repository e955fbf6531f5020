"""Shapes the pages' templates read: cards, search hits with their links, facets, pages, charts."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape
from starlette.datastructures import QueryParams

from services.research.review.schemas import ResourceScores
from services.resources import curriculum
from services.search.schemas import FacetCount, SearchHitRead, SearchMatchRead
from services.showcase.schemas import exemplary_label
from services.web import presenters
from services.web.templating import query_string
from storage.models.research import Notification
from storage.models.resources import Resource, ResourceFile

# Filters of the search page, in the order their facets are shown.
FILTER_NAMES = (
    "resource_type",
    "stage",
    "grade",
    "subject",
    "edition",
    "volume",
    "unit",
    "school_id",
    "tags",
    "kind",
    "exemplary_level",
)
SORTS: dict[str, str] = {"relevance": "相关度", "newest": "最新", "popular": "最热"}
MAX_VALUES_PER_FILTER = 20
FACET_VALUES_SHOWN = 12

GRADE_CHOICES: list[tuple[str, list[tuple[int, str]]]] = [
    (
        stage,
        [
            (grade, presenters.grade_label(grade))
            for grade in range(1, 13)
            if curriculum.stage_for_grade(grade) == stage
        ],
    )
    for stage in curriculum.STAGES
]


def poster_url(resource_id: uuid.UUID, file: ResourceFile | None) -> str | None:
    if file is None:
        return None
    return f"/api/v1/resources/{resource_id}/files/{file.id}/poster"


@dataclass(frozen=True)
class Card:
    id: uuid.UUID
    title: str
    type_label: str
    curriculum: str
    status: str
    view_count: int
    poster: str | None
    created_at: Any


def curriculum_line(
    stage: str | None, grade: int | None, subject: str | None, edition: str | None, volume: str | None
) -> str:
    parts = [presenters.grade_label(grade) if grade else stage, subject, edition, volume]
    return " · ".join(part for part in parts if part)


def card(resource: Resource, posters: Mapping[uuid.UUID, ResourceFile]) -> Card:
    return Card(
        id=resource.id,
        title=resource.title,
        type_label=presenters.RESOURCE_TYPES.get(resource.resource_type, resource.resource_type),
        curriculum=curriculum_line(
            resource.stage, resource.grade, resource.subject, resource.edition, resource.volume
        ),
        status=resource.status,
        view_count=resource.view_count,
        poster=poster_url(resource.id, posters.get(resource.id)),
        created_at=resource.created_at,
    )


# -- search ------------------------------------------------------------------------------------------


def chosen_filters(params: QueryParams) -> dict[str, list[str]]:
    """The filters in the query string, trimmed, each at most MAX_VALUES_PER_FILTER values."""
    chosen: dict[str, list[str]] = {}
    for name in FILTER_NAMES:
        values = [value.strip()[:100] for value in params.getlist(name) if value.strip()]
        if name == "school_id":
            values = [value for value in values if _is_uuid(value)]
        if values:
            chosen[name] = list(dict.fromkeys(values))[:MAX_VALUES_PER_FILTER]
    return chosen


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def search_url(q: str, sort: str, filters: Mapping[str, Sequence[str]], page: int = 1) -> str:
    params: list[tuple[str, str]] = [("q", q)] if q else []
    for name in FILTER_NAMES:
        params += [(name, value) for value in filters.get(name, [])]
    if sort != "relevance":
        params.append(("sort", sort))
    if page > 1:
        params.append(("page", str(page)))
    encoded = query_string(params)
    return f"/search?{encoded}" if encoded else "/search"


def _toggled(filters: Mapping[str, Sequence[str]], name: str, value: str) -> dict[str, list[str]]:
    result = {key: list(values) for key, values in filters.items()}
    values = result.setdefault(name, [])
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    return result


@dataclass(frozen=True)
class FacetOption:
    label: str
    count: int
    active: bool
    url: str


@dataclass(frozen=True)
class FacetGroup:
    name: str
    label: str
    options: list[FacetOption]


def facet_groups(
    facets: Mapping[str, list[FacetCount]], q: str, sort: str, chosen: Mapping[str, Sequence[str]]
) -> list[FacetGroup]:
    groups = []
    for name in FILTER_NAMES:
        counts = facets.get(name, [])
        active = set(chosen.get(name, []))
        options = [
            FacetOption(
                label=presenters.facet_value_label(name, count.value, count.label),
                count=count.count,
                active=count.value in active,
                url=search_url(q, sort, _toggled(chosen, name, count.value)),
            )
            for count in counts[:FACET_VALUES_SHOWN]
        ]
        if options:
            groups.append(FacetGroup(name, presenters.FACETS[name], options))
    return groups


@dataclass(frozen=True)
class ChosenFilter:
    label: str
    remove_url: str


def chosen_labels(
    facets: Mapping[str, list[FacetCount]], q: str, sort: str, chosen: Mapping[str, Sequence[str]]
) -> list[ChosenFilter]:
    """The filters in force, each with a link that drops it (also those the results no longer count)."""
    labels = {(name, count.value): count.label for name, counts in facets.items() for count in counts}
    return [
        ChosenFilter(
            label=presenters.FACETS[name]
            + "："
            + presenters.facet_value_label(name, value, labels.get((name, value))),
            remove_url=search_url(q, sort, _toggled(chosen, name, value)),
        )
        for name, values in chosen.items()
        for value in values
    ]


@dataclass(frozen=True)
class PageLink:
    number: int
    url: str
    current: bool


@dataclass
class Pages:
    links: list[PageLink] = field(default_factory=list)
    previous: str | None = None
    next: str | None = None


def _pages(total: int, page: int, size: int, url_of: Any) -> Pages:
    count = max(1, math.ceil(total / size))
    if count == 1:
        return Pages()
    window = range(max(1, page - 3), min(count, page + 3) + 1)
    return Pages(
        links=[PageLink(number, url_of(number), number == page) for number in window],
        previous=url_of(page - 1) if page > 1 else None,
        next=url_of(page + 1) if page < count else None,
    )


def pagination(
    total: int, page: int, size: int, q: str, sort: str, chosen: Mapping[str, Sequence[str]]
) -> Pages:
    return _pages(total, page, size, lambda number: search_url(q, sort, chosen, number))


def simple_pages(total: int, page: int, size: int, params: Mapping[str, str]) -> Pages:
    def url_of(number: int) -> str:
        encoded = query_string({**params, "page": number if number > 1 else ""})
        return f"?{encoded}" if encoded else "?"

    return _pages(total, page, size, url_of)


@dataclass(frozen=True)
class MatchLink:
    label: str
    url: str
    snippet: Markup


@dataclass(frozen=True)
class Hit:
    title: Markup
    url: str
    kind_label: str
    where: str
    snippet: Markup
    type_label: str
    curriculum: str
    poster: str | None
    more: list[MatchLink]
    # 2026 年区级优秀课例 (services/showcase), and whether it is featured.
    exemplary: str | None = None
    featured: bool = False


def match_url(match: SearchMatchRead) -> str:
    """Where a hit opens: the topic, the resource, the video at the cue's second, the document's page."""
    location = match.location
    if match.kind == "post":
        # Posts name their topic (and a reply its post); older responses put the topic in resource_id.
        topic_id = getattr(match, "topic_id", None) or match.resource_id
        post_id = getattr(match, "post_id", None)
        return f"/topics/{topic_id}" + (f"#post-{post_id}" if post_id else "")
    base = f"/resources/{match.resource_id}"
    if location.where in ("cue", "screen") and location.file_id and location.start_s is not None:
        return f"{base}?{query_string({'file': location.file_id, 't': f'{location.start_s:g}'})}#player"
    if location.where == "page" and location.file_id and location.page is not None:
        return (
            f"{base}?{query_string({'file': location.file_id, 'page': location.page})}#page-{location.page}"
        )
    return base


def match_where(match: SearchMatchRead) -> str:
    location = match.location
    if location.where == "cue" and location.start_s is not None:
        return f"字幕 {presenters.clock(location.start_s)}"
    if location.where == "screen" and location.start_s is not None:
        return f"画面 {presenters.clock(location.start_s)}"
    if location.where == "page" and location.page is not None:
        return f"第 {location.page} 页"
    if location.where == "post":
        return "研讨"
    return ""


def _snippet(match: SearchMatchRead) -> Markup:
    body = match.highlights.get("body")
    if body:
        return presenters.highlighted(body)
    return escape(match.text or "")


def search_hit(hit: SearchHitRead, posters: Mapping[uuid.UUID, ResourceFile]) -> Hit:
    title = hit.highlights.get("title")
    return Hit(
        title=presenters.highlighted(title) if title else escape(hit.title),
        url=match_url(hit),
        kind_label=presenters.MATCH_KINDS.get(hit.kind, hit.kind),
        where=match_where(hit),
        snippet=_snippet(hit),
        type_label=presenters.RESOURCE_TYPES.get(hit.resource_type or "", hit.resource_type or ""),
        curriculum=curriculum_line(hit.stage, hit.grade, hit.subject, hit.edition, hit.volume),
        poster=poster_url(hit.resource_id, posters.get(hit.resource_id)) if hit.resource_id else None,
        more=[
            MatchLink(match_where(other) or "资源信息", match_url(other), _snippet(other))
            for other in hit.more
        ],
        exemplary=exemplary_label(hit.exemplary_level, hit.exemplary_year),
        featured=hit.featured,
    )


# -- scores ------------------------------------------------------------------------------------------

CHART_HEIGHT = 160
CHART_BAR_WIDTH = 48
CHART_GAP = 32


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    reviewers: int
    change: float | None
    x: int
    y: float
    height: float


@dataclass(frozen=True)
class ScoreChart:
    rubric_name: str
    max_total: int
    width: int
    height: int
    bars: list[Bar]
    criteria: list[str]
    # One row per round: the round's label, then each criterion's average ("" where unscored).
    rows: list[list[str]]


def score_charts(scores: ResourceScores) -> list[ScoreChart]:
    """Per rubric, one bar per round (the reviewers' average total), drawn as inline SVG."""
    charts = []
    for rubric in scores.rubrics:
        scale = CHART_HEIGHT / rubric.max_total if rubric.max_total > 0 else 0
        bars = []
        for index, round_scores in enumerate(sorted(rubric.rounds, key=lambda item: item.version)):
            value = round_scores.overall_average
            height = (value or 0) * scale
            bars.append(
                Bar(
                    label=round_scores.label,
                    value=value,
                    reviewers=round_scores.reviewer_count,
                    change=round_scores.overall_change,
                    x=CHART_GAP + index * (CHART_BAR_WIDTH + CHART_GAP),
                    y=20 + CHART_HEIGHT - height,
                    height=height,
                )
            )
        rows = [
            [round_scores.label]
            + ["" if item.average is None else f"{item.average:g}" for item in round_scores.criteria]
            for round_scores in sorted(rubric.rounds, key=lambda item: item.version)
        ]
        charts.append(
            ScoreChart(
                rubric_name=rubric.rubric_name,
                max_total=rubric.max_total,
                width=CHART_GAP + len(bars) * (CHART_BAR_WIDTH + CHART_GAP),
                height=CHART_HEIGHT + 60,
                bars=bars,
                criteria=[criterion.name for criterion in rubric.criteria],
                rows=rows,
            )
        )
    return charts


# -- notifications -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationItem:
    id: uuid.UUID
    kind_label: str
    text: str
    url: str
    created_at: Any
    unread: bool


def notification_url(subject: Mapping[str, str]) -> str:
    if "collection_id" in subject:
        return f"/collections/{subject['collection_id']}"
    if subject.get("url", "").startswith("/") and not subject["url"].startswith("//"):
        return subject["url"]  # a site path the notifying domain made (review decisions)
    if "assignment_id" in subject:
        return f"/tasks/{subject['assignment_id']}"
    if "topic_id" in subject:
        anchor = f"#post-{subject['post_id']}" if "post_id" in subject else ""
        return f"/topics/{subject['topic_id']}{anchor}"
    if "resource_id" in subject:
        query = f"?{query_string({'v': subject.get('version', '')})}" if subject.get("version") else ""
        anchor = f"#comment-{subject['comment_id']}" if "comment_id" in subject else ""
        return f"/resources/{subject['resource_id']}{query}{anchor}"
    return "/notifications"


def notification(item: Notification) -> NotificationItem:
    return NotificationItem(
        id=item.id,
        kind_label=presenters.NOTIFICATION_KINDS.get(item.kind, item.kind),
        text=item.text,
        url=notification_url(item.subject),
        created_at=item.created_at,
        unread=item.read_at is None,
    )
