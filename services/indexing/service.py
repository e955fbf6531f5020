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
from search.index import SearchUnavailable
from services.context import AppContext
from services.indexing.repository import OutboxRepository
from services.observability import metrics
from storage.database import utcnow
from storage.models.search import SearchOutbox

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
        await repository.share_index_writes()
        by_parent: dict[tuple[str, uuid.UUID], list[int]] = {}
        for entry in entries:
            by_parent.setdefault((entry.parent_type, entry.parent_id), []).append(entry.id)
        held = await repository.lock_parents([parent_id for _, parent_id in by_parent])
        parents = {parent: ids for parent, ids in by_parent.items() if parent[1] in held}
        try:
            # A savepoint, so that a database error of one parent leaves the transaction usable.
            async with session.begin_nested():
                await _apply(context, session, list(parents))
        except SearchUnavailable as exc:
            # The backend is down or refusing: everything waits for the next round.
            return await _postpone(repository, [i for ids in parents.values() for i in ids], exc)
        except Exception:
            # Something about one parent (a loader bug, a document the backend rejects) must not hold
            # back the others: apply them one by one and postpone only what fails.
            logger.exception("search outbox: batch failed; applying its %d parents one by one", len(parents))
            return await _apply_one_by_one(context, session, repository, parents)
        applied = [i for ids in parents.values() for i in ids]
        _observe_drained([entry for entry in entries if entry.id in set(applied)])
        await repository.remove(applied)
        if any(entry.attempts for entry in entries if entry.id in set(applied)):
            # Entries that had failed went through: the backend is back, so everything still waiting
            # out its backoff is due now, and the index catches up at once instead of within a minute.
            await repository.retry_now()
        return len(applied)


def _observe_drained(entries: Sequence[SearchOutbox]) -> None:
    now = utcnow()
    metrics.index_drained.inc(len(entries))
    for entry in entries:
        metrics.index_drain_lag.observe(max(0.0, (now - entry.created_at).total_seconds()))


async def _apply(
    context: AppContext, session: AsyncSession, parents: Sequence[tuple[str, uuid.UUID]]
) -> None:
    await _write(context, parents, await _load(session, parents))


async def _load(session: AsyncSession, parents: Sequence[tuple[str, uuid.UUID]]) -> list[SearchDocument]:
    documents: list[SearchDocument] = []
    for parent_type, parent_id in parents:
        loaded = await PARENT_LOADERS[parent_type](session, parent_id)
        documents.extend(loaded or [])
    return documents


async def _write(
    context: AppContext, parents: Sequence[tuple[str, uuid.UUID]], documents: Sequence[SearchDocument]
) -> None:
    # Replace, not merge: pages of a replaced file or cues of a removed subtitle must go, and the
    # parent stays in search meanwhile. Visible to search when it returns; on Elasticsearch that waits
    # for the next scheduled refresh (at most refresh_interval, 1 s) while this drain holds its
    # parents' locks, which is what lets the next drain of a parent find its stale documents.
    await context.search_index.replace_parents([str(parent_id) for _, parent_id in parents], documents)


async def _apply_one_by_one(
    context: AppContext,
    session: AsyncSession,
    repository: OutboxRepository,
    parents: dict[tuple[str, uuid.UUID], list[int]],
) -> int:
    loaded: dict[tuple[str, uuid.UUID], list[SearchDocument]] = {}
    for parent, entry_ids in parents.items():
        try:
            async with session.begin_nested():
                loaded[parent] = await _load(session, [parent])
        except Exception as exc:
            await _postpone(repository, entry_ids, exc)
    # The parents that loaded are written together first: on Elasticsearch each write waits for a
    # refresh (up to 1 s), so one by one only when a document of theirs is what failed.
    applied: list[int] = []
    try:
        await _write(
            context, list(loaded), [document for documents in loaded.values() for document in documents]
        )
        applied = [entry_id for parent in loaded for entry_id in parents[parent]]
    except Exception:
        for parent, documents in loaded.items():
            try:
                await _write(context, [parent], documents)
            except Exception as exc:
                await _postpone(repository, parents[parent], exc)
            else:
                applied.extend(parents[parent])
    await repository.remove(applied)
    return len(applied)


async def _postpone(repository: OutboxRepository, entry_ids: list[int], exc: Exception) -> int:
    logger.warning("search outbox: %d entries postponed: %s", len(entry_ids), exc)
    await repository.postpone(entry_ids, f"{type(exc).__name__}: {exc}", utcnow())
    return 0


async def pending_index_changes(context: AppContext) -> int:
    async with context.sessionmaker() as session:
        return await OutboxRepository(session).pending()


async def rebuild_search_index(context: AppContext, *, progress: bool = False) -> int:
    from rich.progress import Progress

    async def batches() -> AsyncIterator[Sequence[SearchDocument]]:
        async with context.sessionmaker() as session:
            repository = OutboxRepository(session)
            for source in DOCUMENT_SOURCES:
                pending = source(session, REINDEX_BATCH)
                while True:
                    # Each batch is read from the database and written to the new index with drains
                    # held off, so no drain can write a newer state of a parent in between that the
                    # batch, read earlier, would then overwrite. The transaction (and the lock) ends
                    # when the index asks for the next batch, i.e. after it wrote this one.
                    await repository.exclude_index_writes()
                    try:
                        batch = await anext(pending)
                    except StopAsyncIteration:
                        await session.commit()
                        break
                    yield batch
                    await session.commit()

    if not progress:
        return await context.search_index.rebuild(batches())

    try:
        # What the live index holds: the rebuild writes about as many documents.
        expected: int | None = await context.search_index.count()
    except SearchUnavailable:
        expected = None
    with Progress() as bar:
        task = bar.add_task("reindexing documents", total=expected or None)

        async def counted() -> AsyncIterator[Sequence[SearchDocument]]:
            async for batch in batches():
                yield batch
                bar.advance(task, len(batch))

        written = await context.search_index.rebuild(counted())
        bar.update(task, total=written, completed=written)
        return written
