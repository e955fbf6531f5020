"""The search outbox: index changes travel with the data they describe."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base, utcnow


class SearchOutbox(Base):
    """Search-index changes, written in the same transaction as the data and drained by the worker."""

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # The resource (or, later, topic) whose documents must be rebuilt from the database.
    parent_type: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)


class SynonymGroup(Base):
    """A district's own group of interchangeable search terms, on top of the built-in ones."""

    __tablename__ = "search_synonyms"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    terms: Mapped[list[str]] = mapped_column(JSON)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
