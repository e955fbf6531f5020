"""Bookkeeping for background duties: blobs awaiting deletion and when periodic duties last ran."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base, utcnow


class BlobDeletion(Base):
    """Blobs to delete once the transaction that stopped referencing them has committed."""

    __tablename__ = "blob_deletions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    blob_key: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)


class MaintenanceRun(Base):
    """When a periodic duty (gc, upload expiry) last ran, so N workers run it once per interval."""

    __tablename__ = "maintenance_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime]
