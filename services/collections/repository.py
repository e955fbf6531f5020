"""All SQL for collections, their items and followers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import AccessFilter
from storage.database import contains_pattern, utcnow
from storage.models.collections import Collection, CollectionFollower, CollectionItem
from storage.models.identity import User, Visibility
from storage.models.research import Topic
from storage.models.resources import FilePurpose, Resource, ResourceFile, ResourceVersion


def readable_collections(access: AccessFilter) -> ColumnElement[bool]:
    """authz's read rule for collections as SQL (they are published as soon as made)."""
    if access.see_everything:
        return true()
    clauses: list[ColumnElement[bool]] = [
        Collection.visibility.in_([Visibility(value) for value in access.published_visibilities])
    ]
    if access.user_id:
        clauses.append(Collection.owner_id == uuid.UUID(access.user_id))
    if access.whole_district:
        clauses.append(Collection.visibility != Visibility.private)
    if access.school_id:
        school_id = uuid.UUID(access.school_id)
        clauses.append(and_(Collection.visibility == Visibility.school, Collection.school_id == school_id))
        if access.whole_school:
            clauses.append(
                and_(Collection.school_id == school_id, Collection.visibility != Visibility.private)
            )
    return or_(*clauses)


@dataclass(frozen=True)
class CollectionFilters:
    q: str | None = None
    subject: str | None = None
    stage: str | None = None
    owner_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    followed_by: uuid.UUID | None = None
    pending_review: bool | None = None


@dataclass(frozen=True)
class LoadedItem:
    item: CollectionItem
    resource: Resource | None
    topic: Topic | None


class CollectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _on_postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def add(self, collection: Collection) -> None:
        self.session.add(collection)

    async def get(self, collection_id: uuid.UUID, *, for_update: bool = False) -> Collection | None:
        query = select(Collection).where(Collection.id == collection_id)
        if for_update:
            query = query.with_for_update()
        found: Collection | None = (await self.session.scalars(query)).one_or_none()
        return found

    async def delete(self, collection: Collection) -> None:
        await self.session.delete(collection)
        await self.session.flush()

    async def listed(
        self, access: AccessFilter, filters: CollectionFilters, offset: int, limit: int
    ) -> tuple[list[tuple[Collection, str]], int]:
        """Collections the reader may open, most recently changed first, with their owner's name."""
        conditions: list[ColumnElement[bool]] = [readable_collections(access)]
        if filters.q:
            pattern = contains_pattern(filters.q)
            conditions.append(
                or_(
                    Collection.title.ilike(pattern, escape="\\"),
                    Collection.description.ilike(pattern, escape="\\"),
                )
            )
        if filters.subject:
            conditions.append(Collection.subject == filters.subject)
        if filters.stage:
            conditions.append(Collection.stage == filters.stage)
        if filters.owner_id:
            conditions.append(Collection.owner_id == filters.owner_id)
        if filters.school_id:
            conditions.append(Collection.school_id == filters.school_id)
        if filters.pending_review is not None:
            pending = Collection.requested_visibility.is_not(None)
            conditions.append(
                pending if filters.pending_review else Collection.requested_visibility.is_(None)
            )
        query = select(Collection, User.display_name).join(User, User.id == Collection.owner_id)
        if filters.followed_by:
            query = query.join(
                CollectionFollower,
                and_(
                    CollectionFollower.collection_id == Collection.id,
                    CollectionFollower.user_id == filters.followed_by,
                ),
            )
        query = query.where(*conditions)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(Collection.updated_at.desc(), Collection.id).offset(offset).limit(limit)
        )
        return [(collection, name) for collection, name in rows.all()], int(total or 0)

    async def owner_name(self, user_id: uuid.UUID) -> str:
        name = await self.session.scalar(select(User.display_name).where(User.id == user_id))
        return str(name or "")

    # -- items -------------------------------------------------------------------------------------

    async def items(self, collection_id: uuid.UUID) -> list[LoadedItem]:
        """Every item in order, with its resource or topic."""
        rows = await self.session.execute(
            select(CollectionItem, Resource, Topic)
            .outerjoin(Resource, Resource.id == CollectionItem.resource_id)
            .outerjoin(Topic, Topic.id == CollectionItem.topic_id)
            .where(CollectionItem.collection_id == collection_id)
            .order_by(CollectionItem.position, CollectionItem.added_at)
        )
        return [LoadedItem(item, resource, topic) for item, resource, topic in rows.all()]

    async def item(self, collection_id: uuid.UUID, item_id: uuid.UUID) -> CollectionItem | None:
        found: CollectionItem | None = await self.session.scalar(
            select(CollectionItem).where(
                CollectionItem.collection_id == collection_id, CollectionItem.id == item_id
            )
        )
        return found

    async def holds(
        self, collection_id: uuid.UUID, resource_id: uuid.UUID | None, topic_id: uuid.UUID | None
    ) -> bool:
        column, value = (
            (CollectionItem.resource_id, resource_id) if resource_id else (CollectionItem.topic_id, topic_id)
        )
        found = await self.session.scalar(
            select(CollectionItem.id).where(CollectionItem.collection_id == collection_id, column == value)
        )
        return found is not None

    def add_item(self, item: CollectionItem) -> None:
        self.session.add(item)

    async def remove_item(self, item: CollectionItem) -> None:
        await self.session.delete(item)
        await self.session.flush()

    async def renumber(self, collection_id: uuid.UUID, ordered_ids: Sequence[uuid.UUID]) -> None:
        """Positions 0, 1, 2 … in this order."""
        for position, item_id in enumerate(ordered_ids):
            await self.session.execute(
                update(CollectionItem)
                .where(CollectionItem.collection_id == collection_id, CollectionItem.id == item_id)
                .values(position=position)
            )

    async def lesson_videos(self, resource_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ResourceFile]:
        """Per resource, the video of its newest round that has one (to play lessons in order)."""
        if not resource_ids:
            return {}
        rows = await self.session.scalars(
            select(ResourceFile)
            .join(ResourceVersion, ResourceVersion.id == ResourceFile.version_id)
            .where(
                ResourceFile.resource_id.in_(list(resource_ids)),
                ResourceFile.purpose == FilePurpose.primary,
                ResourceFile.category == "video",
            )
            .order_by(ResourceVersion.number.desc())
        )
        found: dict[uuid.UUID, ResourceFile] = {}
        for file in rows.all():
            found.setdefault(file.resource_id, file)
        return found

    # -- followers ---------------------------------------------------------------------------------

    async def follow(self, collection_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Whether this made a new follower (following twice is harmless)."""
        insert = postgresql_insert if self._on_postgresql() else sqlite_insert
        result = await self.session.execute(
            insert(CollectionFollower)
            .values(collection_id=collection_id, user_id=user_id, created_at=utcnow())
            .on_conflict_do_nothing(
                index_elements=[CollectionFollower.collection_id, CollectionFollower.user_id]
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def unfollow(self, collection_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(CollectionFollower).where(
                CollectionFollower.collection_id == collection_id, CollectionFollower.user_id == user_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def follows(self, collection_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        return await self.session.get(CollectionFollower, (collection_id, user_id)) is not None

    async def follower_ids(self, collection_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.scalars(
            select(CollectionFollower.user_id).where(CollectionFollower.collection_id == collection_id)
        )
        return list(rows.all())

    async def count_followers(self, collection_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count()).where(CollectionFollower.collection_id == collection_id)
        )
        return int(count or 0)

    async def referenced_cover_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        rows = await self.session.scalars(
            select(Collection.cover_key).where(Collection.cover_key.in_(list(keys)))
        )
        return {key for key in rows.all() if key}
