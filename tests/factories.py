"""Factories: build valid objects with sensible defaults, overriding only what a test cares about."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from search.documents import DocKind, SearchDocument

_sequence = itertools.count(1)
_EPOCH = datetime(2026, 9, 1, tzinfo=UTC)


def search_document(**overrides: Any) -> SearchDocument:
    number = next(_sequence)
    values: dict[str, Any] = {
        "id": f"resource:{number}",
        "kind": DocKind.resource,
        "parent_id": f"resource:{number}",
        "title": f"资源 {number}",
        "body": "",
        "stage": "小学",
        "grade": "2",
        "subject": "语文",
        "edition": "人教版",
        "resource_type": "courseware",
        "school_id": "school-a",
        "owner_id": "teacher-a",
        "visibility": "public",
        "status": "published",
        "created_at": _EPOCH + timedelta(minutes=number),
    }
    values.update(overrides)
    if "parent_id" not in overrides and "id" in overrides:
        values["parent_id"] = overrides["id"]
    return SearchDocument(**values)
