"""Use cases of my space: favorites and history are the user's own, and list only what they may still open."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.library.repository import LibraryRepository
from services.library.schemas import LibraryItem
from storage.database import utcnow
from storage.models.resources import Resource, ResourceType

# What "继续学习" picks up again: things one watches through.
LESSON_TYPES = [ResourceType.micro_lesson.value, ResourceType.lesson_record.value]


def item(resource: Resource, at: datetime, views: int | None = None) -> LibraryItem:
    return LibraryItem(
        resource_id=resource.id,
        title=resource.title,
        resource_type=resource.resource_type,
        subject=resource.subject,
        grade=resource.grade,
        at=at,
        views=views,
    )


async def record_view(session: AsyncSession, principal: Principal | None, resource_id: uuid.UUID) -> None:
    if principal is not None:
        await LibraryRepository(session).record_view(principal.user_id, resource_id, utcnow())


async def add_favorite(session: AsyncSession, principal: Principal, resource: Resource) -> None:
    await LibraryRepository(session).add_favorite(principal.user_id, resource.id, utcnow())


async def remove_favorite(session: AsyncSession, principal: Principal, resource_id: uuid.UUID) -> None:
    await LibraryRepository(session).remove_favorite(principal.user_id, resource_id)


async def favorites(
    session: AsyncSession, principal: Principal, offset: int, limit: int
) -> tuple[list[LibraryItem], int]:
    rows, total = await LibraryRepository(session).favorites(
        principal.user_id, authz.search_access(principal), offset, limit
    )
    return [item(resource, at) for resource, at in rows], total


async def history(
    session: AsyncSession, principal: Principal, offset: int, limit: int, *, lessons_only: bool = False
) -> tuple[list[LibraryItem], int]:
    rows, total = await LibraryRepository(session).history(
        principal.user_id,
        authz.search_access(principal),
        offset,
        limit,
        LESSON_TYPES if lessons_only else None,
    )
    return [item(resource, at, views) for resource, at, views in rows], total


async def is_favorite(session: AsyncSession, principal: Principal | None, resource_id: uuid.UUID) -> bool:
    return principal is not None and await LibraryRepository(session).is_favorite(
        principal.user_id, resource_id
    )
