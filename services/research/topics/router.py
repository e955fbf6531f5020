"""HTTP for topic threads (专题研讨): topics, their posts and replies, pins, summaries, edit history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.authz import Principal
from services.deps import SessionDep
from services.identity.deps import CurrentPrincipal, OptionalPrincipal
from services.markdown import render
from services.research.schemas import RevisionRead
from services.research.topics import service
from services.research.topics.repository import TopicFilters
from services.research.topics.schemas import (
    LinkedResource,
    PostCreate,
    PostRead,
    PostUpdate,
    SummaryCreate,
    TopicCreate,
    TopicPermissions,
    TopicRead,
    TopicSummary,
    TopicUpdate,
    UserBrief,
)
from services.schemas import Page
from storage.models.identity import User
from storage.models.research import Post, Revision, Topic, TopicState

router = APIRouter(prefix="/api/v1", tags=["topics"])


# -- presenting ------------------------------------------------------------------------------------


def _user(users: dict[uuid.UUID, User], user_id: uuid.UUID) -> UserBrief | None:
    user = users.get(user_id)
    return UserBrief.model_validate(user) if user else None


def _post(post: Post, users: dict[uuid.UUID, User], replies: list[PostRead] | None = None) -> PostRead:
    deleted = post.deleted_at is not None
    return PostRead(
        id=post.id,
        topic_id=post.topic_id,
        parent_id=post.parent_id,
        author=_user(users, post.author_id),
        body=None if deleted else post.body,
        body_html=None if deleted else render(post.body),
        deleted=deleted,
        created_at=post.created_at,
        edited_at=post.edited_at,
        replies=replies or [],
    )


def topic_read(thread: service.Thread, principal: Principal | None) -> TopicRead:
    topic, users = thread.topic, thread.users
    replies: dict[uuid.UUID, list[PostRead]] = {}
    for post in thread.posts:
        if post.parent_id is not None:
            replies.setdefault(post.parent_id, []).append(_post(post, users))
    return TopicRead(
        **TopicSummary.model_validate(topic).model_dump(),
        body=topic.body,
        body_html=render(topic.body),
        author=_user(users, topic.owner_id),
        summary=topic.summary,
        summary_html=render(topic.summary) if topic.summary is not None else None,
        summarized_by_id=topic.summarized_by_id,
        resources=[LinkedResource(id=resource_id, title=title) for resource_id, title in thread.resources],
        participant_count=thread.participant_count,
        posts=[
            _post(post, users, replies.get(post.id, [])) for post in thread.posts if post.parent_id is None
        ],
        permissions=TopicPermissions(**service.permissions(principal, topic)),
    )


async def _detail(session: SessionDep, principal: Principal | None, topic: Topic) -> TopicRead:
    await session.flush()
    return topic_read(await service.thread(session, principal, topic), principal)


async def _post_read(session: SessionDep, post: Post) -> PostRead:
    users = await service.authors(session, [post.author_id])
    return _post(post, users)


def _revisions(revisions: list[Revision]) -> list[RevisionRead]:
    return [RevisionRead.model_validate(revision) for revision in revisions]


# -- topics ----------------------------------------------------------------------------------------


@router.post("/topics", response_model=TopicRead, status_code=201)
async def create_topic(data: TopicCreate, principal: CurrentPrincipal, session: SessionDep) -> TopicRead:
    """Open a topic for colleagues across grades and subjects; link resources you can open."""
    topic = await service.create_topic(session, principal, data)
    return await _detail(session, principal, topic)


@router.get("/topics", response_model=Page[TopicSummary])
async def list_topics(
    principal: OptionalPrincipal,
    session: SessionDep,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    subject: Annotated[str | None, Query(max_length=32)] = None,
    state: TopicState | None = None,
    school_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the title")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[TopicSummary]:
    """Topics this user may read: pinned first, then the most recently active."""
    filters = TopicFilters(
        grade=grade,
        subject=subject,
        state=state,
        school_id=school_id,
        owner_id=owner_id,
        text=q.strip() if q and q.strip() else None,
    )
    topics, total = await service.list_topics(session, principal, filters, offset=offset, limit=limit)
    return Page(
        items=[TopicSummary.model_validate(topic) for topic in topics],
        total=total,
        offset=offset,
        limit=limit,
    )


@router.get("/topics/{topic_id}", response_model=TopicRead)
async def read_topic(topic_id: uuid.UUID, principal: OptionalPrincipal, session: SessionDep) -> TopicRead:
    """The topic, the resources it links that you may open, and its posts with their replies."""
    topic = await service.readable_topic(session, principal, topic_id)
    return await _detail(session, principal, topic)


@router.patch("/topics/{topic_id}", response_model=TopicRead)
async def update_topic(
    topic_id: uuid.UUID, data: TopicUpdate, principal: CurrentPrincipal, session: SessionDep
) -> TopicRead:
    """Edit a topic (its author, or a district admin); what it was before goes to its history."""
    topic = await service.update_topic(session, principal, topic_id, data)
    return await _detail(session, principal, topic)


@router.delete("/topics/{topic_id}", status_code=204)
async def delete_topic(topic_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Delete a topic with all its posts (its author or a moderator)."""
    await service.delete_topic(session, principal, topic_id)
    return Response(status_code=204)


@router.get("/topics/{topic_id}/history", response_model=list[RevisionRead])
async def topic_history(
    topic_id: uuid.UUID, principal: OptionalPrincipal, session: SessionDep
) -> list[RevisionRead]:
    """The topic before each edit, newest first: its body, and the title, grades, subjects or visibility
    the edit changed."""
    return _revisions(await service.topic_history(session, principal, topic_id))


@router.post("/topics/{topic_id}/pin", response_model=TopicRead)
async def pin_topic(topic_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> TopicRead:
    """Keep the topic at the top of the list (research leads, its school's admins, district admins)."""
    topic = await service.set_pinned(session, principal, topic_id, True)
    return await _detail(session, principal, topic)


@router.post("/topics/{topic_id}/unpin", response_model=TopicRead)
async def unpin_topic(topic_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> TopicRead:
    topic = await service.set_pinned(session, principal, topic_id, False)
    return await _detail(session, principal, topic)


@router.post("/topics/{topic_id}/summary", response_model=TopicRead)
async def summarize_topic(
    topic_id: uuid.UUID, data: SummaryCreate, principal: CurrentPrincipal, session: SessionDep
) -> TopicRead:
    """Sum the discussion up (its author or a research lead) and, by default, close it to new posts.

    Everyone who took part is notified."""
    topic = await service.summarize(session, principal, topic_id, data)
    return await _detail(session, principal, topic)


# -- posts -----------------------------------------------------------------------------------------


@router.post("/topics/{topic_id}/posts", response_model=PostRead, status_code=201)
async def add_post(
    topic_id: uuid.UUID, data: PostCreate, principal: CurrentPrincipal, session: SessionDep
) -> PostRead:
    """Post in a topic, or reply to a post (parent_id); @username tells colleagues who can read it."""
    post = await service.add_post(session, principal, topic_id, data)
    return await _post_read(session, post)


@router.patch("/posts/{post_id}", response_model=PostRead)
async def update_post(
    post_id: uuid.UUID, data: PostUpdate, principal: CurrentPrincipal, session: SessionDep
) -> PostRead:
    """Rewrite your own post; the previous text goes to its history."""
    post = await service.update_post(session, principal, post_id, data.body)
    return await _post_read(session, post)


@router.delete("/posts/{post_id}", status_code=204)
async def delete_post(post_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Remove a post (its author or a moderator); it stays in the thread as a placeholder."""
    await service.delete_post(session, principal, post_id)
    return Response(status_code=204)


@router.get("/posts/{post_id}/history", response_model=list[RevisionRead])
async def post_history(
    post_id: uuid.UUID, principal: OptionalPrincipal, session: SessionDep
) -> list[RevisionRead]:
    """Earlier texts of the post, newest first."""
    return _revisions(await service.post_history(session, principal, post_id))
