"""Collections (专题资源包): ordered resources and research topics, followed by students and teachers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.database import Base, Timestamps, UUIDPrimaryKey, utcnow
from storage.models.identity import PublicationStatus, Visibility


def _visibility() -> Enum:
    return Enum(Visibility, native_enum=False, length=16)


class Collection(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "collections"
    __table_args__ = (Index("ix_collections_listing", "visibility", "updated_at"),)

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str | None] = mapped_column(String(32))
    stage: Mapped[str | None] = mapped_column(String(8))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    school_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    # Who may read it now. Widening to district or public by anyone but a district admin waits for
    # review in requested_visibility, the effective visibility unchanged meanwhile.
    visibility: Mapped[Visibility] = mapped_column(_visibility())
    requested_visibility: Mapped[Visibility | None] = mapped_column(_visibility())
    requested_at: Mapped[datetime | None]
    # The last review's outcome: who decided, when, and a declined request's reason.
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    declined_reason: Mapped[str | None] = mapped_column(Text)
    # The cover image's blob (checked by its magic bytes to be an image) and its media type.
    cover_key: Mapped[str | None] = mapped_column(String(200))
    cover_content_type: Mapped[str | None] = mapped_column(String(64))
    item_count: Mapped[int] = mapped_column(default=0)
    follower_count: Mapped[int] = mapped_column(default=0)

    @property
    def status(self) -> PublicationStatus:
        """Collections are published as soon as made; authz reads them like every governed object."""
        return PublicationStatus.published


class CollectionItem(UUIDPrimaryKey, Base):
    """A resource or a research topic at a position (0, 1, 2 … without gaps) of a collection."""

    __tablename__ = "collection_items"
    __table_args__ = (
        UniqueConstraint("collection_id", "resource_id"),
        UniqueConstraint("collection_id", "topic_id"),
        CheckConstraint(
            "(resource_id IS NULL) <> (topic_id IS NULL)", name="collection_item_is_resource_or_topic"
        ),
        Index("ix_collection_items_order", "collection_id", "position"),
    )

    collection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    position: Mapped[int]
    resource_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    topic_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), index=True
    )
    note: Mapped[str] = mapped_column(String(300), default="")
    added_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class CollectionFollower(Base):
    __tablename__ = "collection_followers"
    __table_args__ = (Index("ix_collection_followers_user", "user_id", "created_at"),)

    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
