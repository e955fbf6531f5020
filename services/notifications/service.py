"""Notifications: written in the same transaction as what they announce, read from an inbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.identity.repository import UserRepository
from services.notifications.repository import NotificationRepository
from storage.database import utcnow
from storage.models.research import Notification, NotificationKind

MAX_TEXT = 300


def notify(
    session: AsyncSession,
    recipients: Iterable[uuid.UUID | None],
    kind: NotificationKind,
    *,
    actor_id: uuid.UUID | None,
    subject: dict[str, Any],
    text: str,
) -> list[Notification]:
    """One notification per recipient; nobody is notified of their own action, nor twice."""
    targets = [
        user_id for user_id in dict.fromkeys(recipients) if user_id is not None and user_id != actor_id
    ]
    notifications = [
        Notification(
            id=uuid.uuid4(),
            user_id=user_id,
            kind=kind,
            actor_id=actor_id,
            subject={key: str(value) for key, value in subject.items()},
            text=text[:MAX_TEXT],
            created_at=utcnow(),
        )
        for user_id in targets
    ]
    NotificationRepository(session).add_all(notifications)
    return notifications


async def readers_among(
    session: AsyncSession, user_ids: Iterable[uuid.UUID], may_read: Callable[[Principal], bool]
) -> list[uuid.UUID]:
    """Those of these users (once each, in order) who are active and whom `may_read`, a rule of
    services.authz, lets see what they would be told about: nobody hears of what they cannot open."""
    wanted = list(dict.fromkeys(user_ids))
    users = await UserRepository(session).by_ids(wanted)
    return [
        user_id
        for user_id in wanted
        if (user := users.get(user_id)) is not None and user.is_active and may_read(Principal.of(user))
    ]


async def actor_name(session: AsyncSession, user_id: uuid.UUID) -> str:
    """How a notification's text names whoever acted: their display name, 有人 (someone) if they are gone."""
    user = await UserRepository(session).get(user_id)
    return user.display_name if user else "有人"


async def users_by_username(session: AsyncSession, usernames: list[str]) -> list[uuid.UUID]:
    """Active users with these usernames (case-insensitive), in the order named, in one query;
    unknown names are ignored."""
    # A post mentioning hundreds of people is not a conversation.
    wanted = list(dict.fromkeys(name.lower() for name in usernames[:20]))
    found = await NotificationRepository(session).active_user_ids_by_username(wanted)
    return [found[name] for name in wanted if name in found]


async def inbox(
    session: AsyncSession, user_id: uuid.UUID, *, unread_only: bool, offset: int, limit: int
) -> tuple[list[Notification], int, int]:
    repository = NotificationRepository(session)
    items, total = await repository.inbox(user_id, unread_only=unread_only, offset=offset, limit=limit)
    return items, total, await repository.unread_count(user_id)


async def mark_read(
    session: AsyncSession, user_id: uuid.UUID, ids: list[uuid.UUID] | None
) -> tuple[int, int]:
    """How many were marked, and how many stay unread."""
    repository = NotificationRepository(session)
    marked = await repository.mark_read(user_id, ids, utcnow())
    return marked, await repository.unread_count(user_id)


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    """For the badge every page shows."""
    return await NotificationRepository(session).unread_count(user_id)
