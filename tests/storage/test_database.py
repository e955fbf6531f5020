"""Which database errors are outages (503 and retry) and which are failed statements (bugs)."""

from __future__ import annotations

import errno
import sqlite3

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

from storage.database import UnstorableText, guard_text_parameters, is_database_outage


def wrapped(driver_error: BaseException) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", {}, driver_error)


class AdaptedError(Exception):
    """How SQLAlchemy's asyncpg adapter presents asyncpg's error: chained as the cause."""


def adapted(error: BaseException) -> AdaptedError:
    adapter = AdaptedError(str(error))
    adapter.__cause__ = error
    return adapter


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
        OSError(errno.EHOSTUNREACH, "No route to host"),
        TimeoutError(),
        wrapped(adapted(asyncpg.exceptions.CannotConnectNowError("starting up"))),
        wrapped(adapted(asyncpg.exceptions.AdminShutdownError("terminating connection"))),
        wrapped(adapted(asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation"))),
        sa_exc.TimeoutError("QueuePool limit reached"),
        wrapped(sqlite3.OperationalError("database is locked")),
    ],
    ids=repr,
)
def test_outages(error: BaseException) -> None:
    assert is_database_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(adapted(asyncpg.exceptions.UniqueViolationError("duplicate key"))),
        wrapped(adapted(asyncpg.exceptions.UndefinedColumnError("no such column"))),
        wrapped(sqlite3.OperationalError("no such table: users")),
        FileNotFoundError(errno.ENOENT, "missing"),
        ValueError("not a database error"),
    ],
    ids=repr,
)
def test_failed_statements_are_not_outages(error: BaseException) -> None:
    assert not is_database_outage(error)


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", ["fine", "x\x00"]])
def test_text_no_database_stores_is_refused_before_the_driver(value: object) -> None:

    engine = create_engine("sqlite://")
    guard_text_parameters(engine)
    with engine.connect() as connection, pytest.raises(UnstorableText):
        connection.execute(text("SELECT :value"), {"value": value})
