"""What waits for review never shows in search, suggestions or facet counts to anyone but those who
could already see it (its school), on both stacks; once approved, it does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.context import AppContext
from tests.services.review.world import ReviewWorld, review_world

pytestmark = pytest.mark.anyio

TITLE = "鹬蚌相争寓言审核"


async def _found(world: ReviewWorld, who: str | None) -> tuple[set[str], set[str], dict[str, Any]]:
    """Resource ids in search hits and in suggestions, and the facets, as `who` gets them."""
    search = await world.get("/api/v1/search", who, q="鹬蚌相争")
    assert search.status_code == 200, search.text
    body = search.json()
    hits = {hit["resource_id"] for hit in body["hits"]}
    suggest = await world.get("/api/v1/search/suggest", who, q="鹬蚌")
    assert suggest.status_code == 200, suggest.text
    suggested = {item["resource_id"] for item in suggest.json() if item["resource_id"]}
    return hits, suggested, body["facets"]


def _facet_total(facets: dict[str, Any], name: str, value: str) -> int:
    return sum(entry["count"] for entry in facets.get(name, []) if entry["value"] == value)


async def test_pending_resources_stay_out_of_search_suggest_and_facets(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await review_world(client, context)
    pending = await world.created(
        title=TITLE, visibility="public", subject="语文", resource_type="study_guide"
    )
    await world.process()

    for outsider in ("outsider", "outside_student", None):
        hits, suggested, facets = await _found(world, outsider)
        assert pending["id"] not in hits, outsider
        assert pending["id"] not in suggested, outsider
        assert _facet_total(facets, "resource_type", "study_guide") == 0, outsider
        assert _facet_total(facets, "school_id", str(world.school.id)) == 0, outsider
    # Its school sees it as before: published to the school.
    hits, suggested, facets = await _found(world, "colleague")
    assert pending["id"] in hits and pending["id"] in suggested
    assert _facet_total(facets, "resource_type", "study_guide") == 1

    request = await world.review_of(pending["id"])
    assert request is not None
    assert (await world.decide(request["id"], "approve", "chinese_lead")).status_code == 200
    await world.process()
    for anyone in ("outsider", "outside_student", None):
        hits, suggested, facets = await _found(world, anyone)
        assert pending["id"] in hits, anyone
        assert pending["id"] in suggested, anyone
        assert _facet_total(facets, "resource_type", "study_guide") == 1, anyone

    # A new round sends it back: out of others' search again until approved.
    from tests.factories import upload_form
    from tests.services.review.world import PDF

    response = await client.post(
        f"/api/v1/resources/{pending['id']}/versions",
        files=upload_form({}, "第二版.pdf", PDF),
        headers=world.auth["teacher"],
    )
    assert response.status_code == 201, response.text
    await world.process()
    for outsider in ("outsider", None):
        hits, suggested, facets = await _found(world, outsider)
        assert pending["id"] not in hits and pending["id"] not in suggested, outsider
        assert _facet_total(facets, "resource_type", "study_guide") == 0, outsider
