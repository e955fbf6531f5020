"""What the teaching-research domains share: the edit history of topics, posts and review comments.

Each domain decides when an edit deserves a revision and who may read the history; keeping one and
reading them back are the same for all of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.research.repository import RevisionRepository
from storage.models.research import Revision


def _json_value(value: Any) -> Any:
    """A field's earlier value as the JSON column keeps it: an enum (a topic's visibility) as its value,
    an id (a comment's category) as text, numbers, strings and lists as they are."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def record_revision(
    session: AsyncSession,
    object_type: str,
    object_id: uuid.UUID,
    *,
    body: str,
    previous_fields: Mapping[str, Any],
    editor_id: uuid.UUID,
    at: datetime,
) -> Revision:
    """What the object was before the edit `editor_id` makes at `at`: its body, and the earlier values
    of the other fields the edit changes."""
    revision = Revision(
        id=uuid.uuid4(),
        object_type=object_type,
        object_id=object_id,
        body=body,
        previous_fields={name: _json_value(value) for name, value in previous_fields.items()},
        editor_id=editor_id,
        created_at=at,
    )
    RevisionRepository(session).add(revision)
    return revision


async def revision_history(session: AsyncSession, object_type: str, object_id: uuid.UUID) -> list[Revision]:
    """The object's revisions, newest first; the caller has checked who may read them."""
    return await RevisionRepository(session).history(object_type, object_id)
