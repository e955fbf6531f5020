"""Apply Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    # Alembic is imported where migrations run, not by every process importing this (the API's idle
    # memory, issue 19).
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade_to_head(database_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


async def upgrade_to_head_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, database_url)


def upgrade_to_head_in_child(database_url: str) -> None:
    """upgrade_to_head in a child process, so the caller never holds Alembic and the migration scripts
    (`jiaoyun serve`: ~13 MiB its API process then does without). The URL goes through stdin, not
    argv, which other users of the machine can read. Raises SystemExit with the child's status if it
    fails (its traceback is on stderr)."""
    program = "import sys; from storage.migrate import upgrade_to_head; upgrade_to_head(sys.stdin.read())"
    completed = subprocess.run(  # noqa: S603  (this interpreter, a fixed program, no shell)
        [sys.executable, "-c", program], input=database_url, text=True, check=False
    )
    if completed.returncode != 0:
        raise SystemExit(completed.returncode)
