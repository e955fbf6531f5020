"""The database side of the readiness check."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def ping_database(engine: AsyncEngine) -> None:
    """A round trip to the database on a connection of the pool; raises if there is none to be had."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
