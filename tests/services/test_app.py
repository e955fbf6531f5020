"""The app's start-up: who applies migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from services.app import create_app
from tests import stacks

pytestmark = pytest.mark.anyio


def tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_the_app_migrates_at_start_unless_serve_did_it_already(tmp_path: Path) -> None:
    settings = stacks.settings_for_tests(tmp_path)
    database = tmp_path / "jiaoyun.db"
    # `jiaoyun serve` migrates once itself and starts its processes with migrate=False.
    served = create_app(settings, migrate=False)
    async with served.router.lifespan_context(served):
        pass
    assert "alembic_version" not in tables(database)
    standalone = create_app(settings)
    async with standalone.router.lifespan_context(standalone):
        pass
    assert {"alembic_version", "users", "resources"} <= tables(database)
