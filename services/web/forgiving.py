"""What the search page shows of a forgiving search: the curriculum positions read from the query as
removable chips, and the did-you-mean link (你要找的是不是…)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.search.schemas import SearchResponse, UnderstoodRead
from services.web import presenters
from services.web.views import search_url


@dataclass(frozen=True)
class UnderstoodChip:
    label: str  # 年级：七年级
    source: str  # the words of the query it came from
    remove_url: str


def _without(q: str, text: str) -> str:
    return " ".join(q.replace(text, " ", 1).split()) if text in q else " ".join(q.split())


def understood_chips(
    understood: Sequence[UnderstoodRead], q: str, sort: str, chosen: Mapping[str, Sequence[str]]
) -> list[UnderstoodChip]:
    """One chip per position read from the query. Removing one searches again without its words; what
    the same words also said (七年级上册: the volume beside the grade) stays, as a filter."""
    chips = []
    for part in understood:
        kept = {name: list(values) for name, values in chosen.items()}
        for other in understood:
            if other is not part and other.text == part.text:
                kept.setdefault(other.field, []).append(other.value)
        chips.append(
            UnderstoodChip(
                label=presenters.FACETS[part.field]
                + "："
                + presenters.facet_value_label(part.field, part.value, None),
                source=part.text,
                remove_url=search_url(_without(q, part.text), sort, kept),
            )
        )
    return chips


def did_you_mean_url(result: SearchResponse, sort: str, chosen: Mapping[str, Sequence[str]]) -> str | None:
    return None if result.did_you_mean is None else search_url(result.did_you_mean, sort, chosen)
