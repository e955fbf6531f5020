"""Alembic environment: runs migrations over the app's async engine, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import warnings
from collections.abc import Iterator

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

import storage.models
from storage.database import create_engine, is_sqlite, sqlite_lock_file

target_metadata = storage.models.Base.metadata

# Any fixed number will do, as long as nothing else in the database takes the same advisory lock.
MIGRATION_LOCK_KEY = 0x6A69616F79756E  # "jiaoyun"


@contextlib.contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    """Processes migrating one SQLite file (`serve` beside `worker`) take turns through a lock file."""
    path = sqlite_lock_file(make_url(url).database, "migrate-lock")
    if path is None:
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas starting together migrate one after the other: the lock is held until this
        # transaction ends, and the next one then finds the schema at head and does nothing. Taken
        # before Alembic reads the current revision, so no two runs ever plan the same steps.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=is_sqlite(str(connection.engine.url)),
        compare_type=True,
    )
    with context.begin_transaction(), warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (lower(username)); batch steps reflecting a table
        # that has one say so, and it is known.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_online_locked(url: str) -> None:
    lock = _sqlite_file_lock(url) if is_sqlite(url) else contextlib.nullcontext()
    with lock:
        asyncio.run(_run_online(url))


url = context.config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("sqlalchemy.url is not configured")
if context.is_offline_mode():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _run_online_locked(url)
    else:
        # Called from inside an event loop (the app, a test): run on a fresh loop in another thread.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(_run_online_locked, url).result()
