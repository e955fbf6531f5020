"""Migrations run on both engines, and the migrated schema matches the ORM models."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from anyio import to_thread
from sqlalchemy import Connection, inspect, make_url, text

from storage.database import create_engine
from storage.migrate import alembic_config, upgrade_to_head
from storage.models import Base
from tests import backends
from tests.live import execute_autocommit

pytestmark = [
    pytest.mark.anyio,
    # SQLite's reflection cannot read expression indexes (lower(username)); PostgreSQL's test compares it.
    pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning"),
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
]


def schema_drift(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    upgrade_to_head(url)
    command.downgrade(alembic_config(url), "base")
    upgrade_to_head(url)
    engine = create_engine(url)
    async with engine.connect() as connection:
        assert await connection.run_sync(schema_drift) == []
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    await engine.dispose()
    assert {"users", "schools", "jobs"} <= set(tables)


async def test_postgresql_schema_matches_models(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    async with engine.connect() as connection:
        assert await connection.run_sync(schema_drift) == []
    await engine.dispose()


def _add_user(database: Path, username: str) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO users (id, username, display_name, password_hash, role, is_active, created_at,"
            " updated_at) VALUES (?, ?, 'x', 'x', 'teacher', 1, '2026-01-01', '2026-01-01')",
            (uuid.uuid4().hex, username),
        )


def test_usernames_become_unique_ignoring_case_and_existing_clashes_stop_the_upgrade(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    url = f"sqlite+aiosqlite:///{database}"
    command.upgrade(alembic_config(url), "0006")
    _add_user(database, "Li.Ming")
    _add_user(database, "li.ming")
    _add_user(database, "wang")
    with pytest.raises(RuntimeError, match=r"rename .* li\.ming \(2 accounts\)"):
        upgrade_to_head(url)
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM users WHERE username = 'li.ming'")
    upgrade_to_head(url)
    with pytest.raises(sqlite3.IntegrityError):
        _add_user(database, "WANG")


def _upgrade_together(url: str, runs: int = 4) -> None:
    """Replicas starting at the same moment, as processes (Alembic's context is process-global):
    every run must succeed, and none may apply a step another one applied."""
    start = time.time() + 3
    program = (
        "import time; from storage.migrate import upgrade_to_head; "
        f"time.sleep(max(0, {start} - time.time())); upgrade_to_head({url!r})"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.PIPE, text=True)
        for _ in range(runs)
    ]
    for process in processes:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors


async def test_concurrent_upgrades_take_turns(tmp_path: Path) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await to_thread.run_sync(_upgrade_together, sqlite_url)
    backends.require("postgresql")
    name = f"{make_url(backends.DATABASE_URL).database}_migrate_{uuid.uuid4().hex[:8]}"
    await execute_autocommit(backends.DATABASE_URL, f'CREATE DATABASE "{name}"')
    try:
        postgres_url = make_url(backends.DATABASE_URL).set(database=name).render_as_string(False)
        await to_thread.run_sync(_upgrade_together, postgres_url)
        for url in (sqlite_url, postgres_url):
            engine = create_engine(url)
            async with engine.connect() as connection:
                assert await connection.run_sync(schema_drift) == []
                revisions = await connection.scalars(text("SELECT version_num FROM alembic_version"))
                assert len(revisions.all()) == 1
            await engine.dispose()
    finally:
        await execute_autocommit(backends.DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
