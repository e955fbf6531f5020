"""What the search index gets of a resource's showcase marks (search.documents.SearchDocument)."""

from __future__ import annotations

from storage.models.showcase import ShowcaseMark


def showcase_fields(mark: ShowcaseMark | None) -> dict[str, object]:
    if mark is None:
        return {}
    return {
        "exemplary_level": mark.exemplary_level.value if mark.exemplary_level else None,
        "exemplary_year": str(mark.exemplary_year) if mark.exemplary_year is not None else None,
        "featured": mark.featured_at is not None,
    }
