"""优秀课例 and featured resources on both stacks: who marks what, 409s, search facet and boost, lists."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.context import AppContext
from tests.services.showcase.world import world

pytestmark = pytest.mark.anyio


async def test_marks_and_permissions(client: httpx.AsyncClient, context: AppContext) -> None:
    w = await world(client, context)
    district, school = w.ids["district"], w.ids["school"]
    mark = {"level": "district", "year": 2026}

    # Teachers and students do not mark, not even their own resources; featuring is the district's.
    await w.call("PUT", f"/api/v1/resources/{district}/exemplary", "teacher", 403, json=mark)
    await w.call("PUT", f"/api/v1/resources/{district}/exemplary", "student", 403, json=mark)
    await w.call("PUT", f"/api/v1/resources/{district}/featured", "teacher", 403)
    await w.call("PUT", f"/api/v1/resources/{district}/featured", "school_admin", 403)
    # School admins give 校级 to their school's resources only, never 区级.
    await w.call("PUT", f"/api/v1/resources/{district}/exemplary", "school_admin", 403, json=mark)
    await w.call("PUT", f"/api/v1/resources/{w.ids['outside']}/exemplary", "school_admin", 404, json=mark)

    marked = await w.ok("PUT", f"/api/v1/resources/{district}/exemplary", "lead", json=mark)
    assert marked["exemplary_label"] == "2026 年区级优秀课例"
    assert marked["marked_by_id"] == w.user_ids["lead"] and marked["marked_at"]
    # 区级 needs a resource the district can read: a school-only one is 409, 校级 is fine.
    await w.call("PUT", f"/api/v1/resources/{school}/exemplary", "lead", 409, json=mark)
    school_mark = await w.ok(
        "PUT", f"/api/v1/resources/{school}/exemplary", "school_admin", json={"level": "school"}
    )
    assert school_mark["exemplary_level"] == "school" and school_mark["exemplary_year"] >= 2026
    # A school admin cannot take down (or lower) the district's mark.
    await w.call("DELETE", f"/api/v1/resources/{district}/exemplary", "school_admin", 403)
    await w.call(
        "PUT", f"/api/v1/resources/{district}/exemplary", "school_admin", 403, json={"level": "school"}
    )
    # Drafts and private resources: 409 for what reviewers can see, 404 for what they cannot.
    await w.call("PUT", f"/api/v1/resources/{w.ids['draft']}/exemplary", "district_admin", 409, json=mark)
    await w.call("PUT", f"/api/v1/resources/{w.ids['private']}/exemplary", "district_admin", 404, json=mark)

    featured = await w.ok("PUT", f"/api/v1/resources/{district}/featured", "district_admin")
    assert featured["featured"] and featured["featured_by_id"] == w.user_ids["district_admin"]
    assert featured["exemplary_level"] == "district"  # featuring keeps the mark

    # Everyone who may read it sees the marks; whoever may not gets 404.
    seen = await w.ok("GET", f"/api/v1/resources/{district}/showcase", "student")
    assert seen["exemplary_label"] == "2026 年区级优秀课例" and seen["featured"]
    await w.call("GET", f"/api/v1/resources/{school}/showcase", "outsider", 404)

    # Bad input: unknown ids 404, wrong types and levels 422.
    await w.call("PUT", f"/api/v1/resources/{uuid.uuid4()}/exemplary", "lead", 404, json=mark)
    await w.call("PUT", "/api/v1/resources/not-an-id/exemplary", "lead", 422, json=mark)
    await w.call("PUT", f"/api/v1/resources/{district}/exemplary", "lead", 422, json={"level": "national"})
    await w.call(
        "PUT", f"/api/v1/resources/{district}/exemplary", "lead", 422, json={"level": "district", "year": "x"}
    )
    await w.call("PUT", f"/api/v1/resources/{district}/exemplary", None, 401, json=mark)

    # Lists: featured, and exemplary by level, only what the caller may open.
    featured_list = await w.ok("GET", "/api/v1/showcase?featured=true", None)
    assert featured_list["total"] == 0  # a guest cannot read a district resource
    featured_list = await w.ok("GET", "/api/v1/showcase?featured=true", "outsider")
    assert [item["resource_id"] for item in featured_list["items"]] == [district]
    exemplary = await w.ok("GET", "/api/v1/showcase", "student")
    assert {item["resource_id"] for item in exemplary["items"]} == {district, school}
    exemplary = await w.ok("GET", "/api/v1/showcase", "outsider")
    assert [item["resource_id"] for item in exemplary["items"]] == [district]
    by_level = await w.ok("GET", "/api/v1/showcase?level=school", "student")
    assert [item["resource_id"] for item in by_level["items"]] == [school]

    # Unmarking and unfeaturing keep who did it; the row goes when nothing is left.
    await w.ok("DELETE", f"/api/v1/resources/{district}/featured", "lead")
    cleared = await w.ok("DELETE", f"/api/v1/resources/{district}/exemplary", "lead")
    assert cleared["exemplary_level"] is None and not cleared["featured"]


async def test_search_facet_and_boost_follow_the_marks(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    w = await world(client, context)
    district, public, school = w.ids["district"], w.ids["public"], w.ids["school"]

    async def search(**params: object) -> Any:
        return await w.ok("GET", "/api/v1/search", "colleague", params={"q": "认识钟表", **params})

    before = await search()
    assert before["facets"]["exemplary_level"] == []
    await w.ok(
        "PUT", f"/api/v1/resources/{public}/exemplary", "lead", json={"level": "district", "year": 2026}
    )
    await w.ok("PUT", f"/api/v1/resources/{school}/exemplary", "school_admin", json={"level": "school"})
    await w.ok("PUT", f"/api/v1/resources/{public}/featured", "lead")
    await w.process()  # marking reindexes the resource through the outbox

    found = await search()
    hits = found["hits"]
    # The featured 区级 lesson first, then the 校级 one, then the rest of the same tier.
    assert [hit["resource_id"] for hit in hits[:2]] == [public, school]
    assert (
        hits[0]["exemplary_level"] == "district" and hits[0]["exemplary_year"] == 2026 and hits[0]["featured"]
    )
    facet = {item["value"]: item["count"] for item in found["facets"]["exemplary_level"]}
    assert facet == {"district": 1, "school": 1}
    narrowed = await search(exemplary_level="district")
    assert [hit["resource_id"] for hit in narrowed["hits"]] == [public]
    # The outsider cannot read the school's lesson: neither its hit nor its count.
    outsider = await w.ok("GET", "/api/v1/search", "outsider", params={"q": "认识钟表"})
    assert {item["value"]: item["count"] for item in outsider["facets"]["exemplary_level"]} == {"district": 1}
    assert district in [hit["resource_id"] for hit in outsider["hits"]]
    await w.call("GET", "/api/v1/search", "colleague", 422, params={"exemplary_level": "national"})

    await w.ok("DELETE", f"/api/v1/resources/{public}/exemplary", "lead")
    await w.process()
    facet = {item["value"]: item["count"] for item in (await search())["facets"]["exemplary_level"]}
    assert facet == {"school": 1}
