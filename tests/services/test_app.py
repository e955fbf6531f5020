"""The app's start-up: who applies migrations."""

from __future__ import annotations

import logging
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


async def test_a_mixed_setup_says_that_no_worker_runs_in_the_api(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A database URL (SQLite here, standing in for a server) with blobs and search still embedded.
    url = f"sqlite+aiosqlite:///{tmp_path / 'jiaoyun.db'}"
    mixed = stacks.settings_for_tests(tmp_path, database_url=url).model_copy(update={"embedded_worker": None})
    assert not mixed.runs_worker_in_process
    app = create_app(mixed)
    with caplog.at_level(logging.WARNING, logger="services.app"):
        async with app.router.lifespan_context(app):
            pass
    [warning] = [record.getMessage() for record in caplog.records if record.name == "services.app"]
    assert "mixed mode: database on servers, blob store and search index embedded" in warning
    assert "jiaoyun worker" in warning

    caplog.clear()
    embedded = create_app(stacks.settings_for_tests(tmp_path / "embedded"))
    async with embedded.router.lifespan_context(embedded):
        pass
    assert not [record for record in caplog.records if record.name == "services.app"]
