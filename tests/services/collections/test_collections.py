"""Collections (专题资源包) on both stacks: CRUD, order, visibility and its review seam, items shown per
reader, following and notifications, covers, bad input."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.context import AppContext
from tests import samples
from tests.services.showcase.world import World, world

pytestmark = pytest.mark.anyio


async def make(w: World, who: str = "teacher", **fields: Any) -> dict[str, Any]:
    body = {
        "title": "一年级认识钟表资源包",
        "description": "从钟面到时间",
        "subject": "数学",
        "stage": "小学",
    }
    created: dict[str, Any] = await w.ok(
        "POST", "/api/v1/collections", who, created=True, json={**body, **fields}
    )
    return created


async def add(
    w: World, collection: str, resource: str, who: str = "teacher", **fields: Any
) -> dict[str, Any]:
    added: dict[str, Any] = await w.ok(
        "POST",
        f"/api/v1/collections/{collection}/items",
        who,
        created=True,
        json={"resource_id": resource, **fields},
    )
    return added


async def titles(w: World, collection: str, who: str | None) -> list[str]:
    detail = await w.ok("GET", f"/api/v1/collections/{collection}", who)
    return [item["title"] for item in detail["items"]]


async def test_crud_order_and_visibility_review(client: httpx.AsyncClient, context: AppContext) -> None:
    w = await world(client, context)
    await w.call("POST", "/api/v1/collections", "student", 403, json={"title": "学生的"})
    made = await make(w, visibility="district")
    cid = made["id"]
    # Widening to the district waits for review: private meanwhile, the request shown to its editors.
    assert (made["visibility"], made["requested_visibility"], made["review_state"]) == (
        "private",
        "district",
        "pending",
    )
    await w.call("GET", f"/api/v1/collections/{cid}", "outsider", 404)

    first = await add(w, cid, w.ids["district"])
    second = await add(w, cid, w.ids["public"])
    third = await add(w, cid, w.ids["school"], position=0, note="先看这一节")
    assert (first["position"], second["position"], third["position"]) == (0, 1, 0)
    assert await titles(w, cid, "teacher") == [
        "认识钟表 校内研讨课",
        "认识钟表 区级展示课",
        "认识钟表 公开课",
    ]

    await w.call(
        "POST", f"/api/v1/collections/{cid}/items/{third['id']}/move", "teacher", 204, json={"position": 9}
    )
    assert await titles(w, cid, "teacher") == [
        "认识钟表 区级展示课",
        "认识钟表 公开课",
        "认识钟表 校内研讨课",
    ]
    reordered = await w.ok(
        "PUT",
        f"/api/v1/collections/{cid}/order",
        "teacher",
        json={"item_ids": [second["id"], first["id"], third["id"]]},
    )
    assert [item["id"] for item in reordered["items"]] == [second["id"], first["id"], third["id"]]
    assert [item["position"] for item in reordered["items"]] == [0, 1, 2]
    # An order that is not exactly the items (one missing, one twice): 409.
    await w.call("PUT", f"/api/v1/collections/{cid}/order", "teacher", 409, json={"item_ids": [first["id"]]})
    await w.call(
        "PUT",
        f"/api/v1/collections/{cid}/order",
        "teacher",
        409,
        json={"item_ids": [first["id"], first["id"], second["id"]]},
    )
    await w.call("DELETE", f"/api/v1/collections/{cid}/items/{third['id']}", "teacher", 204)
    assert await titles(w, cid, "teacher") == ["认识钟表 公开课", "认识钟表 区级展示课"]

    # Others may not change it: a colleague can read nothing of a private collection, so 404.
    await w.call("PATCH", f"/api/v1/collections/{cid}", "colleague", 404, json={"title": "x"})
    edited = await w.ok("PATCH", f"/api/v1/collections/{cid}", "teacher", json={"title": "认识钟表（修订）"})
    assert edited["title"] == "认识钟表（修订）" and edited["requested_visibility"] == "district"

    # The widening filed a request in the review queue; a district admin approves it there.
    async def waiting_request() -> dict[str, Any]:
        queue = await w.ok(
            "GET", "/api/v1/review/queue", "district_admin", params={"subject_type": "collection"}
        )
        [request] = [item for item in queue["items"] if item["subject_id"] == cid]
        return dict(request)

    request = await waiting_request()
    assert (request["owner_id"], request["subject"], request["stage"], request["requested_visibility"]) == (
        w.user_ids["teacher"],
        "数学",
        "小学",
        "district",
    )
    await w.ok("POST", f"/api/v1/review/requests/{request['id']}/approve", "district_admin", json={})
    seen = await w.ok("GET", f"/api/v1/collections/{cid}", "outsider")
    assert seen["visibility"] == "district" and seen["requested_visibility"] is None
    # Asking for public now: still district until decided; rejected, the reason shows to its editors.
    await w.ok("PATCH", f"/api/v1/collections/{cid}", "teacher", json={"visibility": "public"})
    await w.call("GET", f"/api/v1/collections/{cid}", None, 404)
    request = await waiting_request()
    await w.ok(
        "POST",
        f"/api/v1/review/requests/{request['id']}/reject",
        "district_admin",
        json={"reason": "封面不清晰"},
    )
    declined = await w.ok("GET", f"/api/v1/collections/{cid}", "teacher")
    assert (declined["visibility"], declined["review_state"], declined["declined_reason"]) == (
        "district",
        "declined",
        "封面不清晰",
    )
    assert (await w.ok("GET", f"/api/v1/collections/{cid}", "outsider"))["declined_reason"] is None
    await w.call("POST", f"/api/v1/review/requests/{request['id']}/approve", "district_admin", 409, json={})
    # Narrowing applies at once; a district admin widens at once.
    await w.ok("PATCH", f"/api/v1/collections/{cid}", "teacher", json={"visibility": "school"})
    await w.call("GET", f"/api/v1/collections/{cid}", "outsider", 404)
    direct = await make(w, "district_admin", title="2026 全区展示课", visibility="public")
    assert direct["visibility"] == "public" and direct["requested_visibility"] is None

    # Listing with filters: words, subject, one's own, and only what the caller may read.
    listed = await w.ok("GET", "/api/v1/collections", "colleague", params={"q": "修订"})
    assert [item["id"] for item in listed["items"]] == [cid]
    assert (await w.ok("GET", "/api/v1/collections", "outsider", params={"q": "修订"}))["total"] == 0
    assert (await w.ok("GET", "/api/v1/collections", "colleague", params={"subject": "语文"}))["total"] == 0
    mine = await w.ok("GET", "/api/v1/collections", "teacher", params={"mine": "true"})
    assert [item["id"] for item in mine["items"]] == [cid]
    pending = await w.ok("GET", "/api/v1/collections", "district_admin", params={"pending_review": "true"})
    assert pending["total"] == 0
    assert direct["id"] in [item["id"] for item in (await w.ok("GET", "/api/v1/collections", None))["items"]]

    await w.call("DELETE", f"/api/v1/collections/{cid}", "colleague", 403)
    await w.call("DELETE", f"/api/v1/collections/{cid}", "teacher", 204)
    await w.call("GET", f"/api/v1/collections/{cid}", "teacher", 404)


async def test_each_reader_sees_only_the_items_they_may_read(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    w = await world(client, context)
    cid = (await make(w, "district_admin", visibility="public"))["id"]
    # The district admin may read the teacher's district, public and school resources, not the private one.
    for name in ("district", "school", "public"):
        await add(w, cid, w.ids[name], "district_admin")
    await w.call(
        "POST",
        f"/api/v1/collections/{cid}/items",
        "district_admin",
        404,
        json={"resource_id": w.ids["private"]},
    )
    everything = ["认识钟表 区级展示课", "认识钟表 校内研讨课", "认识钟表 公开课"]
    assert await titles(w, cid, "district_admin") == everything
    assert await titles(w, cid, "student") == everything  # the resources' own school
    assert await titles(w, cid, "outsider_student") == ["认识钟表 区级展示课", "认识钟表 公开课"]
    assert await titles(w, cid, None) == ["认识钟表 公开课"]
    guest = await w.ok("GET", f"/api/v1/collections/{cid}", None)
    assert guest["item_count"] == 1 and [item["position"] for item in guest["items"]] == [0]
    listed = await w.ok("GET", "/api/v1/collections", "outsider_student")
    assert [(item["id"], item["item_count"]) for item in listed["items"]] == [(cid, 2)]
    # Made private by its owner later, the school lesson drops out for everyone else too.
    await w.ok("PATCH", f"/api/v1/resources/{w.ids['school']}", "teacher", json={"visibility": "private"})
    assert await titles(w, cid, "student") == ["认识钟表 区级展示课", "认识钟表 公开课"]
    assert await titles(w, cid, "district_admin") == ["认识钟表 区级展示课", "认识钟表 公开课"]
    # Lessons with a video play in order; these rows have no file, so none is playable.
    assert not any(
        item["playable"] for item in (await w.ok("GET", f"/api/v1/collections/{cid}", None))["items"]
    )


async def test_follow_and_notifications(client: httpx.AsyncClient, context: AppContext) -> None:
    w = await world(client, context)
    cid = (await make(w, visibility="school"))["id"]
    await w.call("PUT", f"/api/v1/collections/{cid}/follow", "student", 204)
    await w.call("PUT", f"/api/v1/collections/{cid}/follow", "student", 204)  # again: harmless
    await w.call("PUT", f"/api/v1/collections/{cid}/follow", "colleague", 204)
    await w.call("PUT", f"/api/v1/collections/{cid}/follow", "outsider", 404)  # cannot read it
    detail = await w.ok("GET", f"/api/v1/collections/{cid}", "student")
    assert detail["follower_count"] == 2 and detail["following"]
    followed = await w.ok("GET", "/api/v1/collections", "student", params={"followed": "true"})
    assert [item["id"] for item in followed["items"]] == [cid]

    await add(w, cid, w.ids["district"])
    await add(w, cid, w.ids["private"])  # the owner's own: nobody else hears of it
    inbox = await w.ok("GET", "/api/v1/notifications", "student")
    assert [(item["kind"], item["subject"]["resource_id"]) for item in inbox["items"]] == [
        ("collection_item_added", w.ids["district"])
    ]
    assert inbox["items"][0]["subject"]["collection_id"] == cid
    assert "认识钟表 区级展示课" in inbox["items"][0]["text"]
    assert (await w.ok("GET", "/api/v1/notifications", "teacher"))["total"] == 0  # not of one's own action

    await w.call("DELETE", f"/api/v1/collections/{cid}/follow", "student", 204)
    await add(w, cid, w.ids["public"])
    assert (await w.ok("GET", "/api/v1/notifications", "student"))["total"] == 1
    assert (await w.ok("GET", "/api/v1/notifications", "colleague"))["total"] == 3 - 1  # not the private one


async def test_cover_and_bad_input(client: httpx.AsyncClient, context: AppContext) -> None:
    w = await world(client, context)
    cid = (await make(w, visibility="school"))["id"]
    png = samples.png_bytes(16, 9)
    covered = await w.ok(
        "PUT", f"/api/v1/collections/{cid}/cover", "teacher", files={"file": ("封面.txt", png, "text/plain")}
    )
    assert covered["cover_url"]
    picture = await w.call("GET", covered["cover_url"], "student", 200)
    assert picture.content == png and picture.headers["content-type"] == "image/png"
    await w.call("GET", covered["cover_url"], "outsider", 404)
    # Decided by the bytes: a PDF named .png is refused; so is anyone but its editors.
    pdf = samples.pdf_bytes(["不是图片"])
    await w.call(
        "PUT", f"/api/v1/collections/{cid}/cover", "teacher", 415, files={"file": ("a.png", pdf, "image/png")}
    )
    await w.call("PUT", f"/api/v1/collections/{cid}/cover", "colleague", 403, files={"file": ("a.png", png)})
    replaced = await w.ok(
        "PUT",
        f"/api/v1/collections/{cid}/cover",
        "teacher",
        files={"file": ("b.jpg", samples.jpeg_bytes(), "image/jpeg")},
    )
    assert replaced["cover_url"] != covered["cover_url"]

    unknown = str(uuid.uuid4())
    await w.call("GET", f"/api/v1/collections/{unknown}", "teacher", 404)
    await w.call("GET", "/api/v1/collections/not-an-id", "teacher", 422)
    await w.call("POST", f"/api/v1/collections/{cid}/items", "teacher", 404, json={"resource_id": unknown})
    await w.call("POST", f"/api/v1/collections/{cid}/items", "teacher", 404, json={"topic_id": unknown})
    await w.call(
        "POST", f"/api/v1/collections/{unknown}/items", "teacher", 404, json={"resource_id": w.ids["public"]}
    )
    await w.call(
        "POST", f"/api/v1/collections/{cid}/items", "teacher", 404, json={"resource_id": w.ids["outside"]}
    )
    await w.call(
        "POST",
        f"/api/v1/collections/{cid}/items",
        "teacher",
        422,
        json={"resource_id": w.ids["public"], "topic_id": unknown},
    )
    await w.call("POST", f"/api/v1/collections/{cid}/items", "teacher", 422, json={})
    await w.call("POST", f"/api/v1/collections/{cid}/items", "teacher", 422, json={"resource_id": 12})
    await add(w, cid, w.ids["public"])
    await w.call(
        "POST", f"/api/v1/collections/{cid}/items", "teacher", 409, json={"resource_id": w.ids["public"]}
    )
    await w.call("DELETE", f"/api/v1/collections/{cid}/items/{unknown}", "teacher", 404)
    await w.call(
        "POST", f"/api/v1/collections/{cid}/items/{unknown}/move", "teacher", 404, json={"position": 0}
    )
    await w.call("POST", "/api/v1/collections", "teacher", 422, json={"title": ""})
    await w.call("POST", "/api/v1/collections", "teacher", 422, json={"title": "x", "visibility": "everyone"})
    await w.call("POST", "/api/v1/collections", "teacher", 422, json={"title": "x", "stage": "大学"})
    await w.call("PATCH", f"/api/v1/collections/{cid}", "teacher", 422, json={"title": None})
    await w.call("POST", "/api/v1/collections", None, 401, json={"title": "x"})

    # A research topic is an item too, shown to whoever may read the topic.
    topic = await w.ok(
        "POST",
        "/api/v1/topics",
        "colleague",
        created=True,
        json={"title": "钟表教学研讨", "body": "怎样教", "visibility": "school"},
    )
    item = await w.ok(
        "POST", f"/api/v1/collections/{cid}/items", "teacher", created=True, json={"topic_id": topic["id"]}
    )
    assert (item["kind"], item["topic_id"], item["title"]) == ("topic", topic["id"], "钟表教学研讨")
