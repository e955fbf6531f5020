"""Topic threads (专题研讨): open a topic, discuss it in posts and replies, pin it, sum it up and close it.

Every change queues the topic's search documents in the same transaction, and notifications
(mentions, replies, summaries) are written with it too; nobody is told about a topic they cannot read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Action, Principal
from services.errors import AppError, Conflict, Forbidden, NotFound
from services.identity import service as identity
from services.identity.repository import UserRepository
from services.indexing.service import enqueue_reindex
from services.markdown import mentioned_usernames
from services.notifications.service import actor_name, notify, readers_among, users_by_username
from services.research.service import record_revision, revision_history
from services.research.topics.repository import TopicFilters, TopicRepository
from services.research.topics.schemas import PostCreate, SummaryCreate, TopicCreate, TopicUpdate
from services.resources import curriculum
from storage.database import utcnow
from storage.models.identity import User, Visibility
from storage.models.research import NotificationKind, Post, Revision, Topic, TopicState

SEARCH_PARENT = "topic"
TOPIC_REVISION = "topic"
POST_REVISION = "post"
# Besides the body, what a topic's revision keeps when an edit changes it.
REVISED_FIELDS = ("title", "grades", "subjects", "visibility")


class InvalidTopic(AppError):
    status_code = 422
    code = "invalid_payload"


@dataclass(frozen=True)
class Thread:
    """A topic as one reader sees it: the resources they may open, the posts, the people."""

    topic: Topic
    resources: list[tuple[uuid.UUID, str]]
    posts: list[Post]
    users: dict[uuid.UUID, User]
    participant_count: int


def _check_visibility(school_id: uuid.UUID | None, visibility: Visibility) -> None:
    if visibility == Visibility.school and school_id is None:
        raise InvalidTopic(
            "Only a topic of a school can be visible to that school; choose district or public"
        )


async def _check_resources(
    session: AsyncSession, principal: Principal, resource_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """The ids, if each names a resource this user may read; 404 alike for unknown and unreadable."""
    found = {resource.id: resource for resource in await TopicRepository(session).resources(resource_ids)}
    for resource_id in resource_ids:
        resource = found.get(resource_id)
        if resource is None or not authz.can_read(principal, resource):
            raise NotFound(f"Resource {resource_id} not found")
    return resource_ids


async def _load(session: AsyncSession, topic_id: uuid.UUID, *, for_update: bool = False) -> Topic:
    topic = await TopicRepository(session).get(topic_id, for_update=for_update)
    if topic is None:
        raise NotFound("Topic not found")
    return topic


async def _readers(session: AsyncSession, topic: Topic, user_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Those of these users who may read the topic (in order): only they hear about it."""
    return await readers_among(session, user_ids, lambda reader: authz.can_read(reader, topic))


async def authors(session: AsyncSession, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, User]:
    return await UserRepository(session).by_ids(user_ids)


async def _notify_mentions(
    session: AsyncSession,
    principal: Principal,
    topic: Topic,
    text: str,
    *,
    previous: str = "",
    post: Post | None = None,
    skip: Iterable[uuid.UUID] = (),
) -> None:
    """Tell users @mentioned in `text` (and not already in `previous`) who can read the topic."""
    already = {name.lower() for name in mentioned_usernames(previous)}
    names = [name for name in mentioned_usernames(text) if name.lower() not in already]
    if not names:
        return
    skipped = set(skip)
    mentioned = [user_id for user_id in await users_by_username(session, names) if user_id not in skipped]
    recipients = await _readers(session, topic, mentioned)
    if not recipients:
        return
    subject: dict[str, object] = {"topic_id": topic.id}
    if post is not None:
        subject["post_id"] = post.id
    notify(
        session,
        recipients,
        NotificationKind.mention,
        actor_id=principal.user_id,
        subject=subject,
        text=f"{await actor_name(session, principal.user_id)} 在专题《{topic.title}》中提到了你",
    )


# -- topics -----------------------------------------------------------------------------------------


async def create_topic(session: AsyncSession, principal: Principal, data: TopicCreate) -> Topic:
    if not authz.can_open_topic(principal):
        raise Forbidden("Students can read and search topics but not open them")
    _check_visibility(principal.school_id, data.visibility)
    resource_ids = await _check_resources(session, principal, data.resource_ids)
    now = utcnow()
    topic = Topic(
        id=uuid.uuid4(),
        title=data.title,
        body=data.body,
        owner_id=principal.user_id,
        school_id=principal.school_id,
        visibility=data.visibility,
        state=TopicState.open,
        grades=data.grades,
        subjects=data.subjects,
        pinned=False,
        post_count=0,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
    )
    repository = TopicRepository(session)
    repository.add(topic)
    await session.flush()
    await repository.replace_links(topic.id, resource_ids)
    await _notify_mentions(session, principal, topic, topic.body)
    enqueue_reindex(session, SEARCH_PARENT, topic.id)
    return topic


async def readable_topic(session: AsyncSession, principal: Principal | None, topic_id: uuid.UUID) -> Topic:
    topic = await _load(session, topic_id)
    authz.authorize(principal, Action.read, topic)
    return topic


async def thread(session: AsyncSession, principal: Principal | None, topic: Topic) -> Thread:
    repository = TopicRepository(session)
    posts = await repository.posts(topic.id)
    users = await UserRepository(session).by_ids([topic.owner_id, *(post.author_id for post in posts)])
    participants = {topic.owner_id} | {post.author_id for post in posts}
    return Thread(
        topic=topic,
        resources=await repository.readable_linked_resources(topic.id, authz.search_access(principal)),
        posts=posts,
        users=users,
        participant_count=len(participants),
    )


async def list_topics(
    session: AsyncSession, principal: Principal | None, filters: TopicFilters, *, offset: int, limit: int
) -> tuple[list[Topic], int]:
    if filters.subject is not None:
        try:
            filters = replace(filters, subject=curriculum.normalize_subject(filters.subject))
        except ValueError as exc:
            raise InvalidTopic(str(exc)) from exc
    return await TopicRepository(session).list_readable(
        authz.search_access(principal), filters, offset=offset, limit=limit
    )


async def update_topic(
    session: AsyncSession, principal: Principal, topic_id: uuid.UUID, data: TopicUpdate
) -> Topic:
    topic = await _load(session, topic_id, for_update=True)
    authz.require(principal, topic, authz.can_edit_topic(principal, topic), "Only the author edits a topic")
    repository = TopicRepository(session)
    changes = data.model_dump(exclude_unset=True)
    for required in ("title", "body", "grades", "subjects", "resource_ids", "visibility"):
        if required in changes and changes[required] is None:
            raise InvalidTopic(f"{required} cannot be empty")
    if data.visibility is not None:
        _check_visibility(topic.school_id, data.visibility)
    # One revision per edit that changes what readers see of the topic itself. Linked resources are
    # not kept: an old link may name a resource the history's reader cannot open.
    previous_fields = {
        name: getattr(topic, name)
        for name in REVISED_FIELDS
        if changes.get(name) is not None and changes[name] != getattr(topic, name)
    }
    if previous_fields or (data.body is not None and data.body != topic.body):
        record_revision(
            session,
            TOPIC_REVISION,
            topic.id,
            body=topic.body,
            previous_fields=previous_fields,
            editor_id=principal.user_id,
            at=utcnow(),
        )
    if data.visibility is not None:
        topic.visibility = data.visibility
    if data.resource_ids is not None:
        current = set(await repository.linked_resource_ids(topic.id))
        # Links already there stay even if the editor cannot open them; new ones must be readable.
        await _check_resources(session, principal, [rid for rid in data.resource_ids if rid not in current])
        await repository.replace_links(topic.id, data.resource_ids)
    if data.title is not None:
        topic.title = data.title
    if data.grades is not None:
        topic.grades = data.grades
    if data.subjects is not None:
        topic.subjects = data.subjects
    if data.body is not None and data.body != topic.body:
        previous = topic.body
        topic.body = data.body
        await _notify_mentions(session, principal, topic, topic.body, previous=previous)
    topic.updated_at = utcnow()
    enqueue_reindex(session, SEARCH_PARENT, topic.id)
    return topic


async def topic_history(
    session: AsyncSession, principal: Principal | None, topic_id: uuid.UUID
) -> list[Revision]:
    topic = await readable_topic(session, principal, topic_id)
    return await revision_history(session, TOPIC_REVISION, topic.id)


async def set_pinned(session: AsyncSession, principal: Principal, topic_id: uuid.UUID, pinned: bool) -> Topic:
    topic = await _load(session, topic_id, for_update=True)
    authz.require(
        principal, topic, authz.can_moderate(principal, topic), "Only research leads and admins pin topics"
    )
    topic.pinned = pinned
    return topic


async def summarize(
    session: AsyncSession, principal: Principal, topic_id: uuid.UUID, data: SummaryCreate
) -> Topic:
    topic = await _load(session, topic_id, for_update=True)
    authz.require(
        principal,
        topic,
        authz.can_summarize(principal, topic),
        "Only the author or a research lead sums up a topic",
    )
    now = utcnow()
    topic.summary = data.summary
    topic.state = TopicState.closed if data.close else TopicState.summarized
    topic.summarized_by_id = principal.user_id
    topic.summarized_at = now
    topic.last_activity_at = now
    participants = [topic.owner_id, *await TopicRepository(session).poster_ids(topic.id)]
    notify(
        session,
        await _readers(session, topic, participants),
        NotificationKind.topic_summarized,
        actor_id=principal.user_id,
        subject={"topic_id": topic.id},
        text=f"{await actor_name(session, principal.user_id)} 总结了专题《{topic.title}》",
    )
    enqueue_reindex(session, SEARCH_PARENT, topic.id)
    return topic


async def delete_topic(session: AsyncSession, principal: Principal, topic_id: uuid.UUID) -> None:
    topic = await _load(session, topic_id, for_update=True)
    authz.authorize(principal, Action.delete, topic)
    await TopicRepository(session).delete(topic)
    enqueue_reindex(session, SEARCH_PARENT, topic_id)


# -- posts ------------------------------------------------------------------------------------------


async def add_post(
    session: AsyncSession, principal: Principal, topic_id: uuid.UUID, data: PostCreate
) -> Post:
    repository = TopicRepository(session)
    topic = await _load(session, topic_id, for_update=True)
    authz.authorize(principal, Action.comment, topic)
    if topic.state == TopicState.closed:
        raise Conflict("This topic is closed; it accepts no new posts")
    # The post replied to, and the top-level post the reply hangs off (one level of nesting: a
    # reply to a reply joins its top-level post). Both authors hear about it.
    replied: Post | None = None
    parent: Post | None = None
    if data.parent_id is not None:
        replied = await repository.get_post(data.parent_id)
        if replied is None or replied.topic_id != topic.id:
            raise InvalidTopic("parent_id must be a post of this topic")
        parent = replied if replied.parent_id is None else await repository.get_post(replied.parent_id)
        assert parent is not None
        if replied.deleted_at is not None or parent.deleted_at is not None:
            raise Conflict("The post replied to was deleted")
    now = utcnow()
    post = Post(
        id=uuid.uuid4(),
        topic_id=topic.id,
        parent_id=parent.id if parent else None,
        author_id=principal.user_id,
        body=data.body,
        created_at=now,
        updated_at=now,
    )
    repository.add(post)
    await session.flush()
    await repository.count_post(topic, +1, now)
    replied_to: list[uuid.UUID] = []
    if replied is not None and parent is not None:
        replied_to = await _readers(session, topic, [replied.author_id, parent.author_id])
        notify(
            session,
            replied_to,
            NotificationKind.reply,
            actor_id=principal.user_id,
            subject={"topic_id": topic.id, "post_id": post.id, "parent_id": replied.id},
            text=f"{await actor_name(session, principal.user_id)} 回复了你在专题《{topic.title}》中的发言",
        )
    await _notify_mentions(session, principal, topic, post.body, post=post, skip=replied_to)
    enqueue_reindex(session, SEARCH_PARENT, topic.id)
    return post


async def _post_in_topic(
    session: AsyncSession, principal: Principal | None, post_id: uuid.UUID
) -> tuple[Post, Topic]:
    """The post and its topic; 404 alike when either is missing or the topic is unreadable."""
    post = await TopicRepository(session).get_post(post_id)
    if post is None:
        raise NotFound("Post not found")
    topic = await _load(session, post.topic_id)
    if not authz.can_read(principal, topic):
        raise NotFound("Post not found")
    return post, topic


async def update_post(session: AsyncSession, principal: Principal, post_id: uuid.UUID, body: str) -> Post:
    post, topic = await _post_in_topic(session, principal, post_id)
    authz.require(
        principal,
        topic,
        authz.can_edit_post(principal, topic, post.author_id),
        "Only the author edits a post",
    )
    if post.deleted_at is not None:
        raise Conflict("This post was deleted")
    if body != post.body:
        previous = post.body
        record_revision(
            session,
            POST_REVISION,
            post.id,
            body=previous,
            previous_fields={},
            editor_id=principal.user_id,
            at=utcnow(),
        )
        post.body = body
        post.edited_at = utcnow()
        await _notify_mentions(session, principal, topic, body, previous=previous, post=post)
        enqueue_reindex(session, SEARCH_PARENT, topic.id)
    return post


async def post_history(
    session: AsyncSession, principal: Principal | None, post_id: uuid.UUID
) -> list[Revision]:
    post, _ = await _post_in_topic(session, principal, post_id)
    if post.deleted_at is not None:
        raise NotFound("Post not found")
    return await revision_history(session, POST_REVISION, post.id)


async def delete_post(session: AsyncSession, principal: Principal, post_id: uuid.UUID) -> None:
    """Soft delete: the post keeps its place in the thread (replies stay under it), without its words."""
    post, topic = await _post_in_topic(session, principal, post_id)
    authz.require(
        principal,
        topic,
        authz.can_delete_post(principal, topic, post.author_id),
        "Only the author or a moderator deletes a post",
    )
    if post.deleted_at is not None:
        return
    now = utcnow()
    post.deleted_at = now
    post.deleted_by_id = principal.user_id
    await session.flush()
    await TopicRepository(session).count_post(topic, -1, now)
    enqueue_reindex(session, SEARCH_PARENT, topic.id)


def permissions(principal: Principal | None, topic: Topic) -> dict[str, bool]:
    return {
        "edit": authz.can_edit_topic(principal, topic),
        "delete": authz.can(principal, Action.delete, topic),
        "post": authz.can(principal, Action.comment, topic) and topic.state != TopicState.closed,
        "moderate": authz.can_moderate(principal, topic),
        "summarize": authz.can_summarize(principal, topic),
    }


async def _load_topic(session: AsyncSession, topic_id: uuid.UUID) -> Topic | None:
    return await TopicRepository(session).get(topic_id)


# People are @mentioned in a topic's body and posts.
identity.MENTION_PLACES["topic"] = _load_topic
