"""Pydantic shapes of my space."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from services.assignments.schemas import AssignmentRead


class LibraryItem(BaseModel):
    resource_id: uuid.UUID
    title: str
    resource_type: str
    subject: str | None
    grade: int | None
    # When it was favorited, or last opened.
    at: datetime
    views: int | None = None


class ContinueLearning(BaseModel):
    """继续学习: micro-lessons and lesson recordings opened lately, and tasks not finished yet."""

    lessons: list[LibraryItem]
    tasks: list[AssignmentRead]
