"""What the teaching-research APIs share: the edit history of topics, posts and review comments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class RevisionRead(BaseModel):
    """One edit, newest first in a history: what the text was before the edit made at created_at."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    # The body before the edit, whether or not the edit changed it.
    body: str
    # The earlier values of the other fields the edit changed: a topic's title, grades, subjects and
    # visibility; a review comment's start_s, end_s and category_id. Empty when only the body changed.
    previous_fields: dict[str, Any]
    editor_id: uuid.UUID | None
    created_at: datetime
