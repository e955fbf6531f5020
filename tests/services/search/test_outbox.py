"""Writes never wait for search: with the index unreachable they succeed, and the index catches up."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from elasticsearch import AsyncElasticsearch

from search.documents import SearchDocument
from search.elastic import ElasticsearchSearchIndex
from services.context import AppContext
from services.indexing.repository import OutboxRepository
from services.indexing.service import (
    PARENT_LOADERS,
    drain_search_outbox,
    enqueue_reindex,
    pending_index_changes,
    rebuild_search_index,
)
from tests import samples
from tests.services.resources.scenario import district

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def search_down(context: AppContext) -> AsyncIterator[None]:
    """The app's search index unreachable inside the block, the working one back after it."""
    working_index = context.search_index
    # A real client against a port nothing listens on: every call fails the way an outage does.
    unreachable = ElasticsearchSearchIndex(
        AsyncElasticsearch("http://127.0.0.1:9", request_timeout=1, max_retries=0), "outage"
    )
    context.search_index = unreachable
    try:
        yield
    finally:
        context.search_index = working_index
        await unreachable.close()


async def test_the_index_catches_up_after_an_outage(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    async with search_down(context):
        created = [
            await world.created(
                f"{number}.pdf", samples.pdf_bytes([f"停电期间第{number}份"]), title=f"停电 {number}"
            )
            for number in range(3)
        ]
        renamed = await client.patch(
            f"/api/v1/resources/{created[0]['id']}", json={"title": "停电 改名"}, headers=world.teacher_auth
        )
        assert renamed.status_code == 200
        await world.process()  # processing succeeds; only indexing waits
        assert await pending_index_changes(context) > 0
        down = await client.get("/api/v1/search", params={"q": "停电"}, headers=world.teacher_auth)
        assert down.status_code == 503 and down.json()["error"]["code"] == "service_unavailable"

    async with context.sessionmaker() as session, session.begin():
        await OutboxRepository(session).retry_now()  # skip the backoff the failures earned
    while await drain_search_outbox(context):
        pass
    await context.search_index.refresh()

    assert await pending_index_changes(context) == 0
    up = await client.get(
        "/api/v1/search", params={"q": "停电", "kind": "resource"}, headers=world.teacher_auth
    )
    assert sorted(hit["title"] for hit in up.json()["hits"]) == ["停电 1", "停电 2", "停电 改名"]
    pages = await client.get(
        "/api/v1/search", params={"q": "停电期间", "kind": "file_page"}, headers=world.teacher_auth
    )
    assert pages.json()["total"] == 3


async def test_reindex_rebuilds_the_same_documents(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    await world.created("a.pdf", samples.pdf_bytes(["第一页", "第二页"]), title="重建索引")
    await world.process()
    await context.search_index.refresh()
    before = await context.search_index.count()

    assert await rebuild_search_index(context) == before == 3  # the resource and its two pages
    await context.search_index.refresh()
    found = await client.get("/api/v1/search", params={"q": "重建索引"}, headers=world.teacher_auth)
    assert found.json()["hits"][0]["title"] == "重建索引"


async def test_a_parent_that_fails_does_not_hold_back_the_others(
    client: httpx.AsyncClient, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await district(client, context)

    async def broken_loader(session: object, parent_id: object) -> list[SearchDocument] | None:
        raise RuntimeError("this parent cannot be loaded")

    monkeypatch.setitem(PARENT_LOADERS, "broken", broken_loader)
    broken_id = uuid.uuid4()
    async with context.sessionmaker() as session, session.begin():
        enqueue_reindex(session, "broken", broken_id)
    await world.created("a.pdf", samples.pdf_bytes(["照常索引"]), title="照常索引")
    await world.process()
    await context.search_index.refresh()

    found = await client.get("/api/v1/search", params={"q": "照常索引"}, headers=world.teacher_auth)
    assert found.json()["total"] == 1
    async with context.sessionmaker() as session:
        left = await OutboxRepository(session).all_entries()
    # Tried once, or again if its backoff ran out while the worker processed the file.
    assert [entry.parent_id for entry in left] == [broken_id] and left[0].attempts >= 1
    assert "this parent cannot be loaded" in (left[0].last_error or "")


async def test_once_a_failed_entry_goes_through_the_others_skip_their_backoff(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    async with search_down(context):
        for number in range(3):
            await world.created(
                f"{number}.pdf", samples.pdf_bytes([f"恢复 {number}"]), title=f"恢复 {number}"
            )
        await world.process()
    async with context.sessionmaker() as session, session.begin():
        waiting = await OutboxRepository(session).all_entries()
        assert waiting and all(entry.attempts >= 1 for entry in waiting)
        await OutboxRepository(session).make_one_due()  # only its backoff has run out

    while await drain_search_outbox(context):
        pass
    assert await pending_index_changes(context) == 0
