"""The outbox drain replaces each parent's documents: what it wrote is searchable when it returns, and a
parent written again at once (well inside Elasticsearch's 1 s refresh interval), also by two drains
running side by side, loses the children it no longer has."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from search.documents import AccessFilter, DocKind, SearchDocument, SearchQuery
from services.context import AppContext
from services.indexing.service import PARENT_LOADERS, drain_search_outbox, enqueue_reindex
from tests.factories import search_document

pytestmark = pytest.mark.anyio


class Lessons:
    """A parent type whose documents the test sets: the parent itself and its pages, or none (gone)."""

    def __init__(self) -> None:
        self.pages: dict[uuid.UUID, list[int] | None] = {}

    async def load(self, session: object, parent_id: uuid.UUID) -> list[SearchDocument] | None:
        pages = self.pages.get(parent_id)
        if pages is None:
            return None
        parent = str(parent_id)
        return [search_document(id=parent, title="教案")] + [
            search_document(
                id=f"{parent}/page/{page}",
                parent_id=parent,
                kind=DocKind.file_page,
                title="教案",
                body=f"第{page}页",
                page=page,
            )
            for page in pages
        ]


@pytest.fixture
def lessons(monkeypatch: pytest.MonkeyPatch) -> Lessons:
    registered = Lessons()
    monkeypatch.setitem(PARENT_LOADERS, "lesson", registered.load)
    return registered


async def changed(
    context: AppContext, lessons: Lessons, parent_id: uuid.UUID, pages: list[int] | None
) -> None:
    lessons.pages[parent_id] = pages
    async with context.sessionmaker() as session, session.begin():
        enqueue_reindex(session, "lesson", parent_id)


async def searchable(context: AppContext) -> list[str]:
    """What search finds now, without refresh(): the drain's writes must already be visible."""
    result = await context.search_index.search(
        SearchQuery(access=AccessFilter(see_everything=True), limit=100)
    )
    return sorted(hit.id for hit in result.hits)


async def test_a_parent_written_again_at_once_loses_its_stale_pages(
    context: AppContext, lessons: Lessons
) -> None:
    lesson, other = uuid.uuid4(), uuid.uuid4()
    await changed(context, lessons, lesson, [1, 2, 3])
    await changed(context, lessons, other, [1])
    assert await drain_search_outbox(context) == 2
    assert len(await searchable(context)) == 6

    await changed(context, lessons, lesson, [2])  # a replaced file with fewer pages
    assert await drain_search_outbox(context) == 1
    assert await searchable(context) == sorted(
        [str(lesson), f"{lesson}/page/2", str(other), f"{other}/page/1"]
    )

    await changed(context, lessons, lesson, None)  # deleted
    await changed(context, lessons, other, [])
    assert await drain_search_outbox(context) == 2
    assert await searchable(context) == [str(other)]


async def test_two_drains_side_by_side_leave_no_stale_pages(context: AppContext, lessons: Lessons) -> None:
    if context.engine.dialect.name == "postgresql":
        # Each drain on a connection of its own, committing, as two workers' are (the fixture's
        # sessions share one connection inside the test's transaction, and so its advisory locks).
        context = dataclasses.replace(
            context, sessionmaker=async_sessionmaker(context.engine, expire_on_commit=False)
        )
    parents = [uuid.uuid4() for _ in range(4)]
    for parent in parents:
        await changed(context, lessons, parent, [1, 2, 3])

    async def drain_until_idle() -> None:
        while await drain_search_outbox(context):
            pass

    first = asyncio.create_task(drain_until_idle())
    # While the first drain writes, every parent changes again and a second drain takes what it can:
    # a parent the first still holds waits for a later round.
    for parent in parents:
        await changed(context, lessons, parent, [3])
    await asyncio.gather(first, drain_until_idle())
    await drain_until_idle()

    assert await searchable(context) == sorted(
        [str(parent) for parent in parents] + [f"{parent}/page/3" for parent in parents]
    )
