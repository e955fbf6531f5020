"""HTTP for the notification inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.deps import SessionDep
from services.identity.deps import CurrentPrincipal
from services.notifications import service
from services.notifications.schemas import Inbox, MarkedRead, MarkRead, NotificationRead

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=Inbox)
async def read_inbox(
    principal: CurrentPrincipal,
    session: SessionDep,
    unread: bool = False,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Inbox:
    """Mentions, replies, comments on my lessons and summaries of my topics, newest first."""
    items, total, unread_count = await service.inbox(
        session, principal.user_id, unread_only=unread, offset=offset, limit=limit
    )
    return Inbox(
        items=[NotificationRead.model_validate(item) for item in items],
        total=total,
        unread_count=unread_count,
        offset=offset,
        limit=limit,
    )


@router.post("/read", response_model=MarkedRead)
async def mark_read(data: MarkRead, principal: CurrentPrincipal, session: SessionDep) -> MarkedRead:
    """Mark the given notifications (or, without ids, all of them) as read."""
    marked, unread_count = await service.mark_read(session, principal.user_id, data.ids)
    return MarkedRead(marked=marked, unread_count=unread_count)
