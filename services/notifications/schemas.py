"""What the notifications API returns and accepts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from storage.models.research import NotificationKind


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: NotificationKind
    actor_id: uuid.UUID | None
    subject: dict[str, str]
    text: str
    created_at: datetime
    read_at: datetime | None


class Inbox(BaseModel):
    items: list[NotificationRead]
    total: int
    unread_count: int
    offset: int
    limit: int


class MarkRead(BaseModel):
    # None marks everything read.
    ids: Annotated[list[uuid.UUID], Field(max_length=500)] | None = None


class MarkedRead(BaseModel):
    marked: int
    unread_count: int
