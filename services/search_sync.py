"""Feeding the search index from the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import SearchDocument
from services.context import AppContext

REINDEX_BATCH = 500

# Each domain that puts documents in the index registers a source yielding batches of them.
DocumentSource = Callable[[AsyncSession, int], AsyncIterator[Sequence[SearchDocument]]]
DOCUMENT_SOURCES: list[DocumentSource] = []


async def rebuild_search_index(context: AppContext, *, progress: bool = False) -> int:
    from rich.progress import Progress

    async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
        async with context.sessionmaker() as session:
            for source in DOCUMENT_SOURCES:
                async for batch in source(session, REINDEX_BATCH):
                    yield batch

    if not progress:
        return await context.search_index.rebuild(batches())

    with Progress() as bar:
        task = bar.add_task("reindexing", total=None)

        async def counted() -> AsyncIterator[Sequence[SearchDocument]]:
            async for batch in batches():
                yield batch
                bar.advance(task, len(batch))

        return await context.search_index.rebuild(counted())
