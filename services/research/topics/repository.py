"""All SQL for topic threads: topics, their posts, linked resources and revisions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, and_, cast, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from search.documents import AccessFilter
from services.resources.repository import readable_clause as resource_readable_clause
from storage.models.identity import PublicationStatus, Visibility
from storage.models.research import Post, Revision, Topic, TopicResource, TopicState
from storage.models.resources import Resource


def readable_clause(access: AccessFilter) -> ColumnElement[bool]:
    """authz's read rule as SQL over topics, from the AccessFilter search uses (as for resources)."""
    if access.see_everything:
        return true()
    published = Topic.status == PublicationStatus.published
    clauses: list[ColumnElement[bool]] = [
        and_(published, Topic.visibility.in_([Visibility(value) for value in access.published_visibilities]))
    ]
    if access.user_id:
        clauses.append(Topic.owner_id == uuid.UUID(access.user_id))
    if access.whole_district:
        clauses.append(Topic.visibility != Visibility.private)
    if access.school_id:
        school_id = uuid.UUID(access.school_id)
        clauses.append(and_(published, Topic.visibility == Visibility.school, Topic.school_id == school_id))
        if access.whole_school:
            clauses.append(and_(Topic.school_id == school_id, Topic.visibility != Visibility.private))
    return or_(*clauses)


def _json_list_has(
    column: InstrumentedAttribute[list[int]] | InstrumentedAttribute[list[str]], value: int | str
) -> ColumnElement[bool]:
    """A JSON list column holds this scalar. Lists are written by json.dumps (", " between items, on
    SQLite and PostgreSQL alike), so an item is found with its delimiters: "[3, 5]" has 3, not 1."""
    text = cast(column, String)
    item = json.dumps(value)
    return or_(
        *(
            text.contains(pattern, autoescape=True)
            for pattern in (f"[{item}]", f"[{item},", f" {item},", f" {item}]")
        )
    )


@dataclass(frozen=True)
class TopicFilters:
    grade: int | None = None
    subject: str | None = None
    state: TopicState | None = None
    school_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    # Part of the title, any case.
    text: str | None = None


class TopicRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, *objects: Topic | TopicResource | Post) -> None:
        self.session.add_all(objects)

    async def get(self, topic_id: uuid.UUID, *, for_update: bool = False) -> Topic | None:
        query = select(Topic).where(Topic.id == topic_id)
        if for_update:
            # Serializes posting against closing, and edits against each other (their revisions).
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def list_readable(
        self, access: AccessFilter, filters: TopicFilters, *, offset: int, limit: int
    ) -> tuple[list[Topic], int]:
        query = select(Topic).where(readable_clause(access))
        for column, value in (
            (Topic.state, filters.state),
            (Topic.school_id, filters.school_id),
            (Topic.owner_id, filters.owner_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if filters.grade is not None:
            query = query.where(_json_list_has(Topic.grades, filters.grade))
        if filters.subject is not None:
            query = query.where(_json_list_has(Topic.subjects, filters.subject))
        if filters.text:
            query = query.where(func.lower(Topic.title).contains(filters.text.lower(), autoescape=True))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(Topic.pinned.desc(), Topic.last_activity_at.desc(), Topic.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows.all()), int(total or 0)

    async def delete(self, topic: Topic) -> None:
        # Posts and resource links go with it through ON DELETE CASCADE; revisions have no foreign key.
        post_ids = select(Post.id).where(Post.topic_id == topic.id).scalar_subquery()
        await self.session.execute(
            delete(Revision).where(
                or_(
                    and_(Revision.object_type == "topic", Revision.object_id == topic.id),
                    and_(Revision.object_type == "post", Revision.object_id.in_(post_ids)),
                )
            )
        )
        await self.session.execute(delete(Topic).where(Topic.id == topic.id))
        self.session.expunge(topic)

    async def count_post(self, topic: Topic, delta: int, now: datetime) -> None:
        """One atomic UPDATE of the post count (and, for a new post, the last activity); the topic's
        updated_at stays the time of its last edit."""
        values: dict[str, object] = {"post_count": Topic.post_count + delta, "updated_at": Topic.updated_at}
        if delta > 0:
            values["last_activity_at"] = now
        await self.session.execute(
            update(Topic)
            .where(Topic.id == topic.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        await self.session.refresh(topic, ["post_count", "last_activity_at", "updated_at"])

    # -- linked resources -------------------------------------------------------------------------

    async def resources(self, resource_ids: Sequence[uuid.UUID]) -> list[Resource]:
        if not resource_ids:
            return []
        rows = await self.session.scalars(select(Resource).where(Resource.id.in_(resource_ids)))
        return list(rows.all())

    async def linked_resource_ids(self, topic_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.scalars(
            select(TopicResource.resource_id).where(TopicResource.topic_id == topic_id)
        )
        return list(rows.all())

    async def readable_linked_resources(
        self, topic_id: uuid.UUID, access: AccessFilter
    ) -> list[tuple[uuid.UUID, str]]:
        rows = await self.session.execute(
            select(Resource.id, Resource.title)
            .join(TopicResource, TopicResource.resource_id == Resource.id)
            .where(TopicResource.topic_id == topic_id, resource_readable_clause(access))
            .order_by(Resource.title, Resource.id)
        )
        return [(resource_id, title) for resource_id, title in rows.all()]

    async def replace_links(self, topic_id: uuid.UUID, resource_ids: Sequence[uuid.UUID]) -> None:
        await self.session.execute(delete(TopicResource).where(TopicResource.topic_id == topic_id))
        self.session.add_all(
            TopicResource(topic_id=topic_id, resource_id=resource_id) for resource_id in resource_ids
        )

    # -- posts ----------------------------------------------------------------------------------------

    async def get_post(self, post_id: uuid.UUID) -> Post | None:
        return await self.session.scalar(select(Post).where(Post.id == post_id))

    async def posts(self, topic_id: uuid.UUID, *, live_only: bool = False) -> list[Post]:
        query = select(Post).where(Post.topic_id == topic_id)
        if live_only:
            query = query.where(Post.deleted_at.is_(None))
        rows = await self.session.scalars(query.order_by(Post.created_at, Post.id))
        return list(rows.all())

    async def poster_ids(self, topic_id: uuid.UUID) -> list[uuid.UUID]:
        """Everyone who posted in the topic (deleted posts too), in the order they first posted."""
        rows = await self.session.execute(
            select(Post.author_id, func.min(Post.created_at).label("first"))
            .where(Post.topic_id == topic_id)
            .group_by(Post.author_id)
            .order_by("first")
        )
        return [author_id for author_id, _ in rows.all()]

    # -- search ---------------------------------------------------------------------------------------

    async def topic_ids_page(self, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        query = select(Topic.id).order_by(Topic.id).limit(limit)
        if after is not None:
            query = query.where(Topic.id > after)
        return list((await self.session.scalars(query)).all())

    async def indexable(self, topic_ids: Sequence[uuid.UUID]) -> list[tuple[Topic, list[Post]]]:
        """Topics with their posts still standing, oldest first."""
        if not topic_ids:
            return []
        topics = (
            await self.session.scalars(select(Topic).where(Topic.id.in_(topic_ids)).order_by(Topic.id))
        ).all()
        posts = (
            await self.session.scalars(
                select(Post)
                .where(Post.topic_id.in_(topic_ids), Post.deleted_at.is_(None))
                .order_by(Post.created_at, Post.id)
            )
        ).all()
        by_topic: dict[uuid.UUID, list[Post]] = {topic.id: [] for topic in topics}
        for post in posts:
            by_topic[post.topic_id].append(post)
        return [(topic, by_topic[topic.id]) for topic in topics]
