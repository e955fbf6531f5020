"""Feeding the search index from the database: the outbox drain and full rebuilds.

Writers call `enqueue_reindex` in the same transaction as their change; the worker drains the
outbox, rebuilding each named parent's documents from the database. If the search backend is down
the entries wait and are retried, so writes never fail and the index always catches up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import SearchDocument
from services.context import AppContext
from services.indexing.repository import OutboxRepository
from storage.database import utcnow

logger = logging.getLogger(__name__)

REINDEX_BATCH = 500
DRAIN_BATCH = 200

# Each domain that puts documents in the index registers a source yielding batches of them (for
# rebuilds) and a loader giving one parent's documents, or None once the parent is gone.
DocumentSource = Callable[[AsyncSession, int], AsyncIterator[Sequence[SearchDocument]]]
ParentLoader = Callable[[AsyncSession, uuid.UUID], Awaitable[list[SearchDocument] | None]]
DOCUMENT_SOURCES: list[DocumentSource] = []
PARENT_LOADERS: dict[str, ParentLoader] = {}


def enqueue_reindex(session: AsyncSession, parent_type: str, parent_id: uuid.UUID) -> None:
    OutboxRepository(session).add(parent_type, parent_id)


async def drain_search_outbox(context: AppContext) -> int:
    """Apply one batch of outbox entries to the index; returns how many entries were applied."""
    async with context.sessionmaker() as session, session.begin():
        repository = OutboxRepository(session)
        entries = await repository.claim(DRAIN_BATCH)
        if not entries:
            return 0
        parents = list(dict.fromkeys((entry.parent_type, entry.parent_id) for entry in entries))
        entry_ids = [entry.id for entry in entries]
        try:
            documents: list[SearchDocument] = []
            for parent_type, parent_id in parents:
                loaded = await PARENT_LOADERS[parent_type](session, parent_id)
                documents.extend(loaded or [])
            # Replace, not merge: pages of a replaced file or cues of a removed subtitle must go.
            await context.search_index.delete_by_parent([str(parent_id) for _, parent_id in parents])
            if documents:
                await context.search_index.upsert(documents)
        except Exception as exc:
            logger.warning("search outbox: %d entries postponed: %s", len(entry_ids), exc)
            await repository.postpone(entry_ids, f"{type(exc).__name__}: {exc}", utcnow())
            return 0
        await repository.remove(entry_ids)
        return len(entry_ids)


async def pending_index_changes(context: AppContext) -> int:
    async with context.sessionmaker() as session:
        return await OutboxRepository(session).pending()


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
