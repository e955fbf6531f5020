"""All SQL for the search outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import lock_for_transaction, utcnow
from storage.models.search import SearchOutbox

# PostgreSQL advisory-lock namespaces (the first key of the two-key form).
_PARENT_LOCKS = 0x4A59_0001  # one parent's documents being rebuilt from the database and written
_REBUILD_LOCK = 0x4A59_0002  # a rebuild batch being read and written (exclusive) vs drains (shared)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _serializes(self) -> bool:
        # Only PostgreSQL locks parents one by one; on SQLite a drain holds all index writes at once.
        return self.session.get_bind().dialect.name == "postgresql"

    async def lock_parents(self, parent_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Of these parents, the ones this transaction now holds, none held by another drain.

        Held until the transaction ends, so two workers never write one parent's documents at once:
        otherwise a worker that read an older state could write it after one that read the newer.
        A parent held elsewhere is left for a later round.
        """
        if not self._serializes():
            return set(parent_ids)
        held = set()
        for parent_id in parent_ids:
            got = await self.session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:space, hashtext(:parent))"),
                {"space": _PARENT_LOCKS, "parent": str(parent_id)},
            )
            if got:
                held.add(parent_id)
        return held

    async def share_index_writes(self) -> None:
        """Wait for a rebuild batch in flight; then keep rebuilds out until this transaction ends."""
        await self._lock_index_writes(shared=True)

    async def exclude_index_writes(self) -> None:
        """For a rebuild batch: no drain writes between its read from the database and its write."""
        await self._lock_index_writes(shared=False)

    async def _lock_index_writes(self, *, shared: bool) -> None:
        if self._serializes():
            function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            await self.session.execute(text(f"SELECT {function}(:space, 0)"), {"space": _REBUILD_LOCK})
        else:
            # Processes sharing one SQLite file (`jiaoyun serve` with its worker, `jiaoyun reindex`, a
            # second `jiaoyun worker`) take turns: drains too hold the lock exclusively, standing in
            # for the per-parent locks, at no cost as SQLite writes one transaction at a time anyway.
            await lock_for_transaction(self.session, "index-writes.lock", shared=False)

    def add(self, parent_type: str, parent_id: uuid.UUID) -> None:
        self.session.add(SearchOutbox(parent_type=parent_type, parent_id=parent_id))

    async def claim(self, limit: int) -> list[SearchOutbox]:
        """Due entries, locked so that concurrent workers take different ones."""
        rows = await self.session.scalars(
            select(SearchOutbox)
            .where(SearchOutbox.run_after <= utcnow())
            .order_by(SearchOutbox.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows.all())

    async def remove(self, entry_ids: Sequence[int]) -> None:
        await self.session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(entry_ids)))

    async def postpone(self, entry_ids: Sequence[int], error: str, now: datetime) -> None:
        # Backoff grows with attempts but stays short: the index should catch up soon after a restart.
        for entry in await self.session.scalars(select(SearchOutbox).where(SearchOutbox.id.in_(entry_ids))):
            entry.attempts += 1
            entry.last_error = error[:2000]
            entry.run_after = now + timedelta(seconds=min(60, 2 ** min(entry.attempts, 6)))

    async def all_entries(self) -> list[SearchOutbox]:
        return list((await self.session.scalars(select(SearchOutbox).order_by(SearchOutbox.id))).all())

    async def pending(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(SearchOutbox)) or 0)

    async def retry_now(self) -> None:
        """Every entry waiting out a backoff is due at once."""
        now = utcnow()
        await self.session.execute(
            update(SearchOutbox).where(SearchOutbox.run_after > now).values(run_after=now)
        )

    async def make_one_due(self) -> None:
        """The oldest waiting entry is due now, as if its backoff had run out (tests)."""
        oldest = await self.session.scalar(select(func.min(SearchOutbox.id)))
        await self.session.execute(
            update(SearchOutbox).where(SearchOutbox.id == oldest).values(run_after=utcnow())
        )
