"""Migrations run on both engines, and the migrated schema matches the ORM models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from storage.database import create_engine
from storage.migrate import alembic_config, upgrade_to_head
from storage.models import Base

pytestmark = pytest.mark.anyio


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
