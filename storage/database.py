"""Relational persistence: declarative base, engine and session factory for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    mapped_column,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere (used with escape="\\"): % and _ typed by someone are
    the characters themselves, not wildcards (q=_ would list everyone)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite drops tzinfo on the way back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class UUIDPrimaryKey:
    # Random ids: guessing another school's ids leads nowhere.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UnstorableText(ValueError):
    """A text value no database stores faithfully: a NUL character (PostgreSQL refuses it where SQLite
    would keep it, and the two must behave alike) or a lone surrogate (not encodable as UTF-8)."""


def _refuse_unstorable(value: object) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise UnstorableText("Text may not contain NUL characters")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise UnstorableText("Text must be valid Unicode (it contains a lone surrogate)") from exc
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_unstorable(item)


def _check_text_parameters(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    rows = parameters if executemany else [parameters]
    for row in rows:
        _refuse_unstorable(list(row.values()) if isinstance(row, dict) else row)


def guard_text_parameters(engine: AsyncEngine | Engine) -> None:
    """Every statement's text parameters are checked before they reach the driver, so bad text from
    any source (JSON, query strings, forms, files) is one clean error instead of a driver failure."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    event.listen(sync_engine, "before_cursor_execute", _check_text_parameters)


# SQLSTATEs of a server that is away: class 08 (connection exception), 57P01-57P03 (shutting down,
# crashed, starting up).
_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH, errno.ENETUNREACH}
    | {errno.ETIMEDOUT, errno.EPIPE}
)


def is_database_outage(error: BaseException) -> bool:
    """Whether this error means the database can't be reached right now (down, restarting, the
    connection lost, every pooled connection busy), rather than that a statement failed."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.TimeoutError | sa_exc.DisconnectionError):
            return True
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and current.errno in _NETWORK_ERRNOS:
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_OUTAGE_SQLSTATES):
            return True
        if isinstance(current, sqlite3.OperationalError) and "locked" in str(current):
            return True
        # SQLAlchemy keeps the driver's error in .orig; the asyncpg adapter chains asyncpg's own.
        pending.extend(
            cause
            for cause in (getattr(current, "orig", None), current.__cause__)
            if isinstance(cause, BaseException)
        )
    return False


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        database_path = url.split("///", 1)[-1]
        if database_path and database_path != ":memory:":
            Path(database_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    else:
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
        ping_idle_connections(engine)
    guard_text_parameters(engine)
    return engine


# A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0
_CHECKED_IN_AT = "jiaoyun_checked_in_at"


def ping_idle_connections(engine: AsyncEngine) -> None:
    """What pool_pre_ping is for (a connection the server closed, e.g. across a PostgreSQL restart, is
    replaced before a request gets it), at one round trip where it is needed and none where it is not.

    pool_pre_ping pings every checkout, and asyncpg's ping outside a transaction is three round trips
    (BEGIN, an empty query, ROLLBACK): on a search, more than the queries it runs. Here a connection
    returned to the pool less than PING_AFTER_IDLE_S ago is handed out as is (it answered just now; a
    server restart takes longer than that), and an older one is pinged with the empty query alone.
    A ping that fails makes the pool drop the connection and take another (DisconnectionError).
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_S:
            return  # just connected, or in use a moment ago
        try:
            dbapi_connection.run_async(lambda connection: connection.fetchrow(";"))
        except Exception as exc:
            raise sa_exc.DisconnectionError(f"pooled connection did not answer a ping: {exc!r}") from exc


def _configure_sqlite_connection(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the in-process worker read while the API writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that write nothing (see services.deps.read_only).

    On PostgreSQL their connections run in autocommit: no BEGIN before the first query and no COMMIT
    after the last, two round trips a search made besides its two queries. Each query still sees one
    consistent snapshot, as it would in a READ COMMITTED transaction, which gives a new snapshot to
    each query too. SQLite's driver begins no transaction before a SELECT anyway, so there it is the
    plain engine. Sessions marked read-only refuse to write (refuse_writes), so autocommit never
    splits a write.
    """
    if engine.dialect.name == "sqlite":
        return create_sessionmaker(engine)
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


_READ_ONLY = "jiaoyun_read_only"


class ReadOnlySessionWrite(RuntimeError):
    """Code running in a read-only request tried to write: a programming error (the route is marked
    read_only but writes), answered with a 500 before anything reaches the database."""


def refuse_writes(session: AsyncSession) -> None:
    session.info[_READ_ONLY] = True


def is_read_only(session: Session) -> bool:
    return bool(session.info.get(_READ_ONLY))


@event.listens_for(Session, "before_flush")
def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if is_read_only(session) and (session.new or session.dirty or session.deleted):
        raise ReadOnlySessionWrite("this request is read-only: it may not add, change or delete rows")


@event.listens_for(Session, "do_orm_execute")
def _refuse_statement(state: ORMExecuteState) -> None:
    if is_read_only(state.session) and _writes(state):
        raise ReadOnlySessionWrite(f"this request is read-only: it may not run {state.statement}")


def _writes(state: ORMExecuteState) -> bool:
    if state.is_insert or state.is_update or state.is_delete:
        return True
    statement = state.statement
    reads = ("SELECT", "WITH")
    return isinstance(statement, TextClause) and not statement.text.lstrip().upper().startswith(reads)


def sqlite_lock_file(database: str | None, name: str) -> Path | None:
    """Where processes sharing this SQLite file take turns at `name`; None for an in-memory database,
    which only its own process can open."""
    if not database or database == ":memory:":
        return None
    return Path(f"{database}.{name}")


# File descriptors of transaction-scoped SQLite file locks, in Session.info until the transaction ends.
_FILE_LOCKS = "jiaoyun_file_locks"


async def lock_for_transaction(session: AsyncSession, name: str, *, shared: bool) -> None:
    """A lock beside a SQLite database file, held until the session's transaction ends.

    SQLite has no advisory locks, yet two processes may share one database (`jiaoyun serve` with
    its in-process worker, and `jiaoyun reindex`): an flock on a file next to the database gives
    them the same shared/exclusive lock PostgreSQL's advisory locks give. Polled without blocking,
    so the event loop keeps running and a cancelled wait leaves nothing held.
    """
    connection = await session.connection()  # also begins the transaction the lock ends with
    path = sqlite_lock_file(connection.engine.url.database, name)
    if path is None:
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(descriptor, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.02)
    except BaseException:
        os.close(descriptor)
        raise
    session.info.setdefault(_FILE_LOCKS, []).append(descriptor)


@event.listens_for(Session, "after_transaction_end")
def _release_file_locks(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        for descriptor in session.info.pop(_FILE_LOCKS, []):
            os.close(descriptor)  # closing the file releases its flock
