"""Defence in depth: hits whose resource or topic the database no longer lets the caller read are
dropped before search, suggest (and the web search page) answer, even while the index lags behind."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from services.context import AppContext
from services.search.service import STALE_HITS
from tests import samples
from tests.services.resources.scenario import District, district

pytestmark = pytest.mark.anyio

PDF = samples.pdf_bytes(["陈旧索引的第一页 望庐山瀑布"])
TITLE = "望庐山瀑布 陈旧索引"


async def search(world: District, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await world.client.get("/api/v1/search", params=params, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def suggested(world: District, auth: dict[str, str], prefix: str) -> list[str]:
    response = await world.client.get("/api/v1/search/suggest", params={"q": prefix}, headers=auth)
    assert response.status_code == 200, response.text
    return [item["resource_id"] or item["topic_id"] for item in response.json()]


async def test_a_resource_made_private_leaves_search_before_the_index_knows(
    client: httpx.AsyncClient, context: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    world = await district(client, context)
    shown = await world.created("a.pdf", PDF, title=TITLE, resource_type="lesson_plan")
    hidden = await world.created("b.pdf", PDF, title=f"{TITLE} 第二课时", resource_type="lesson_plan")
    await world.process()
    found = await search(world, world.colleague_auth, q="望庐山瀑布")
    assert {hit["resource_id"] for hit in found["hits"]} == {shown["id"], hidden["id"]}
    assert set(await suggested(world, world.colleague_auth, "望庐山")) == {shown["id"], hidden["id"]}

    # The owner narrows it; the outbox is not drained, so the index still says "district".
    response = await client.patch(
        f"/api/v1/resources/{hidden['id']}", json={"visibility": "private"}, headers=world.teacher_auth
    )
    assert response.status_code == 200, response.text
    dropped_before = STALE_HITS.dropped
    with caplog.at_level(logging.WARNING, logger="services.search.service"):
        for params in ({"q": "望庐山瀑布"}, {"q": "望庐山瀑布", "group": "none"}, {"q": "第一页"}):
            page = await search(world, world.colleague_auth, **params)
            ids = {hit["resource_id"] for hit in page["hits"]}
            assert hidden["id"] not in ids and shown["id"] in ids, params
            assert page["total"] == len(page["hits"]), params
        assert await suggested(world, world.colleague_auth, "望庐山") == [shown["id"]]
        web = await client.get("/search", params={"q": "望庐山瀑布"}, headers=world.colleague_auth)
        assert web.status_code == 200 and "第二课时" not in web.text
    assert STALE_HITS.dropped > dropped_before
    assert "stale search index" in caplog.text and hidden["id"] in caplog.text
    # Its owner may still read it, so it stays in their results.
    mine = await search(world, world.teacher_auth, q="望庐山瀑布")
    assert {hit["resource_id"] for hit in mine["hits"]} == {shown["id"], hidden["id"]}

    # Deleted, or back to a draft: gone for the others too, before any drain.
    assert (
        await client.delete(f"/api/v1/resources/{shown['id']}", headers=world.teacher_auth)
    ).status_code == 204
    assert (await search(world, world.colleague_auth, q="望庐山瀑布"))["hits"] == []
    assert await suggested(world, world.colleague_auth, "望庐山") == []

    # Once the drain has run, the index itself agrees and nothing more is dropped.
    await world.process()
    dropped_after_drain = STALE_HITS.dropped
    assert (await search(world, world.colleague_auth, q="望庐山瀑布"))["hits"] == []
    assert STALE_HITS.dropped == dropped_after_drain


async def test_a_deleted_topic_leaves_search_before_the_index_knows(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    created = await client.post(
        "/api/v1/topics",
        json={"title": "陈旧索引的专题研讨", "body": "讨论", "visibility": "school"},
        headers=world.teacher_auth,
    )
    assert created.status_code == 201, created.text
    topic_id = created.json()["id"]
    await world.process()
    page = await search(world, world.colleague_auth, q="陈旧索引", kind="post")
    assert [hit["topic_id"] for hit in page["hits"]] == [topic_id]

    response = await client.delete(f"/api/v1/topics/{topic_id}", headers=world.teacher_auth)
    assert response.status_code == 204, response.text
    page = await search(world, world.colleague_auth, q="陈旧索引", kind="post")
    assert page["hits"] == [] and page["total"] == 0
