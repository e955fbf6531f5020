"""Use cases of text read from recordings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import NotFound
from services.resources.repository import ResourceRepository
from storage.models.resources import ResourceFile, ScreenText


async def file_screens(session: AsyncSession, file: ResourceFile) -> list[ScreenText]:
    return await ResourceRepository(session).screens(file.id)


async def file_screen(session: AsyncSession, file: ResourceFile, number: int) -> ScreenText:
    screen = await ResourceRepository(session).screen(file.id, number)
    if screen is None:
        raise NotFound("This video has no such screen")
    return screen
