"""Use cases of collections (专题资源包): ordered resources and research topics, followed by readers.

A collection is governed like a topic (owner, school, visibility; published when made), so authz's
read rule applies to it as to everything else. Its items are shown to each reader only when that
reader may open them: a student sees the lessons of a collection they may read, never the
colleagues-only resource in it.

Review: widening a collection to the district or the public files a request in the review queue
(services/review) as a resource's publishing does, and the collection keeps showing to what it was shown
to before (a new one: its owner only) until a reviewer decides. `requested_visibility` and
`declined_reason` mirror the request for the collection's editors; the queue decides through the
subject type registered at the bottom of this module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Action, Principal
from services.collections.repository import CollectionFilters, CollectionRepository, LoadedItem
from services.collections.schemas import (
    CollectionCreate,
    CollectionDetail,
    CollectionItemRead,
    CollectionPermissions,
    CollectionRead,
    CollectionUpdate,
    ItemAdd,
)
from services.errors import Conflict, Forbidden, NotFound
from services.maintenance.repository import BlobDeletionRepository
from services.notifications import service as notifications
from services.research.topics.repository import TopicRepository
from services.resources.repository import ResourceRepository
from services.review import gate as review_gate
from services.review.registry import SubjectInfo, SubjectType
from services.review.registry import register as register_review_subject
from services.showcase.repository import ShowcaseRepository
from services.showcase.schemas import exemplary_label
from storage.database import utcnow
from storage.models.collections import Collection, CollectionItem
from storage.models.identity import Visibility
from storage.models.research import NotificationKind
from storage.models.resources import ResourceType
from storage.models.review import ReviewCause

# The collection's own number of items is bounded, so reordering and listing stay one small query.
MAX_ITEMS = 500
REVIEW_SUBJECT_TYPE = "collection"
_LESSON_TYPES = frozenset({ResourceType.lesson_record, ResourceType.micro_lesson})


# -- loading and presenting ------------------------------------------------------------------------


async def load(session: AsyncSession, collection_id: uuid.UUID, *, for_update: bool = False) -> Collection:
    collection = await CollectionRepository(session).get(collection_id, for_update=for_update)
    if collection is None:
        raise NotFound("Collection not found")
    return collection


async def readable(
    session: AsyncSession, principal: Principal | None, collection_id: uuid.UUID, *, for_update: bool = False
) -> Collection:
    collection = await load(session, collection_id, for_update=for_update)
    if not authz.can_read(principal, collection) and not await review_gate.may_review_subject(
        session, principal, REVIEW_SUBJECT_TYPE, collection.id
    ):
        raise NotFound("Collection not found")
    return collection


async def editable(session: AsyncSession, principal: Principal, collection_id: uuid.UUID) -> Collection:
    """The collection, for its owner or the administrators of its scope; 404 unreadable, 403 else."""
    collection = await load(session, collection_id, for_update=True)
    authz.authorize(principal, Action.update, collection)
    return collection


def can_edit(principal: Principal | None, collection: Collection) -> bool:
    return authz.can(principal, Action.update, collection)


@dataclass(frozen=True)
class VisibleItem:
    loaded: LoadedItem
    read: CollectionItemRead


async def visible_items(
    session: AsyncSession, principal: Principal | None, collection: Collection
) -> list[VisibleItem]:
    """The items this reader may open, in order; the others are left out as if absent."""
    loaded = await CollectionRepository(session).items(collection.id)
    kept = [
        item
        for item in loaded
        if (item.resource is not None and authz.can_read(principal, item.resource))
        or (item.topic is not None and authz.can_read(principal, item.topic))
    ]
    resource_ids = [item.resource.id for item in kept if item.resource is not None]
    marks = await ShowcaseRepository(session).by_resources(resource_ids)
    videos = await CollectionRepository(session).lesson_videos(
        [item.resource.id for item in kept if item.resource and item.resource.resource_type in _LESSON_TYPES]
    )
    shown = []
    for position, item in enumerate(kept):
        if item.resource is not None:
            mark = marks.get(item.resource.id)
            read = CollectionItemRead(
                id=item.item.id,
                position=position,
                kind="resource",
                resource_id=item.resource.id,
                title=item.resource.title,
                resource_type=item.resource.resource_type,
                subject=item.resource.subject,
                grade=item.resource.grade,
                note=item.item.note,
                playable=item.resource.id in videos,
                exemplary_label=exemplary_label(mark.exemplary_level, mark.exemplary_year) if mark else None,
            )
        else:
            assert item.topic is not None
            read = CollectionItemRead(
                id=item.item.id,
                position=position,
                kind="topic",
                topic_id=item.topic.id,
                title=item.topic.title,
                subject=item.topic.subjects[0] if item.topic.subjects else None,
                note=item.item.note,
            )
        shown.append(VisibleItem(item, read))
    return shown


def cover_url(collection: Collection) -> str | None:
    if collection.cover_key is None:
        return None
    # The key changes with every new cover, so the URL does too (caches never show an old one).
    return f"/api/v1/collections/{collection.id}/cover?v={collection.cover_key.rsplit('/', 1)[-1][:12]}"


async def present(
    session: AsyncSession,
    principal: Principal | None,
    collection: Collection,
    *,
    owner_name: str | None = None,
    visible_count: int | None = None,
) -> CollectionRead:
    repository = CollectionRepository(session)
    editor = can_edit(principal, collection)
    if visible_count is None:
        visible_count = len(await visible_items(session, principal, collection))
    review_state: Literal["pending", "declined"] | None = None
    if collection.requested_visibility is not None:
        review_state = "pending"
    elif collection.declined_reason:
        review_state = "declined"
    return CollectionRead(
        id=collection.id,
        title=collection.title,
        description=collection.description,
        subject=collection.subject,
        stage=collection.stage,
        owner_id=collection.owner_id,
        owner_name=owner_name if owner_name is not None else await repository.owner_name(collection.owner_id),
        school_id=collection.school_id,
        visibility=collection.visibility,
        requested_visibility=collection.requested_visibility if editor else None,
        review_state=review_state if editor else None,
        declined_reason=collection.declined_reason if editor else None,
        cover_url=cover_url(collection),
        item_count=visible_count,
        follower_count=collection.follower_count,
        following=principal is not None and await repository.follows(collection.id, principal.user_id),
        permissions=CollectionPermissions(edit=editor, follow=principal is not None),
        created_at=collection.created_at,
        updated_at=collection.updated_at,
    )


async def detail(
    session: AsyncSession, principal: Principal | None, collection: Collection
) -> CollectionDetail:
    items = await visible_items(session, principal, collection)
    summary = await present(session, principal, collection, visible_count=len(items))
    return CollectionDetail(**dict(summary), items=[item.read for item in items])


# -- the collection itself -------------------------------------------------------------------------


async def _set_visibility(
    session: AsyncSession, collection: Collection, principal: Principal, wanted: Visibility, *, new: bool
) -> None:
    """Narrowing, and anything a district admin does, applies at once; widening to the district or the
    public files a review request, the collection showing meanwhile what the review rules say."""
    shown = await review_gate.request_visibility(
        session,
        principal,
        _review_info(collection),
        requested=wanted,
        # A new collection shows to nobody but its owner until its audience is approved.
        approved=Visibility.private if new else collection.visibility,
        cause=ReviewCause.publish,
        visibility_chosen=True,
    )
    collection.visibility = shown
    if shown == wanted:
        collection.requested_visibility = None
        collection.requested_at = None
    else:
        collection.requested_visibility = wanted
        collection.requested_at = utcnow()
        collection.declined_reason = None


async def create(session: AsyncSession, principal: Principal, data: CollectionCreate) -> Collection:
    if not authz.can_make_collections(principal):
        raise Forbidden("Teachers, research leads and administrators make collections")
    collection = Collection(
        id=uuid.uuid4(),
        title=data.title,
        description=data.description,
        subject=data.subject,
        stage=data.stage,
        owner_id=principal.user_id,
        school_id=principal.school_id,
        visibility=Visibility.private,
        item_count=0,
        follower_count=0,
    )
    CollectionRepository(session).add(collection)
    await _set_visibility(session, collection, principal, data.visibility, new=True)
    await session.flush()
    return collection


async def update(
    session: AsyncSession, principal: Principal, collection_id: uuid.UUID, data: CollectionUpdate
) -> Collection:
    collection = await editable(session, principal, collection_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("title", "description", "subject", "stage"):
        if name in changes:
            setattr(collection, name, changes[name])
    if data.visibility is not None:
        await _set_visibility(session, collection, principal, data.visibility, new=False)
    collection.updated_at = utcnow()
    await session.flush()
    return collection


async def delete(session: AsyncSession, principal: Principal, collection_id: uuid.UUID) -> None:
    collection = await load(session, collection_id, for_update=True)
    authz.authorize(principal, Action.delete, collection)
    if collection.cover_key:
        BlobDeletionRepository(session).add([collection.cover_key])
    await review_gate.withdraw(session, REVIEW_SUBJECT_TYPE, collection.id, principal.user_id)
    await CollectionRepository(session).delete(collection)


async def replace_cover(session: AsyncSession, collection: Collection, key: str, media_type: str) -> None:
    """The new cover is stored; the old one goes to the deferred blob deletions."""
    if collection.cover_key:
        BlobDeletionRepository(session).add([collection.cover_key])
    collection.cover_key = key
    collection.cover_content_type = media_type
    collection.updated_at = utcnow()
    await session.flush()


async def listed(
    session: AsyncSession, principal: Principal | None, filters: CollectionFilters, offset: int, limit: int
) -> tuple[list[CollectionRead], int]:
    rows, total = await CollectionRepository(session).listed(
        authz.search_access(principal), filters, offset, limit
    )
    return [
        await present(session, principal, collection, owner_name=name) for collection, name in rows
    ], total


# -- items -----------------------------------------------------------------------------------------


async def add_item(
    session: AsyncSession, principal: Principal, collection_id: uuid.UUID, data: ItemAdd
) -> CollectionItemRead:
    """Add a resource or topic the editor may open; followers who may open both hear of it."""
    collection = await editable(session, principal, collection_id)
    repository = CollectionRepository(session)
    thing: authz.Governed | None
    if data.resource_id is not None:
        thing = await ResourceRepository(session).get(data.resource_id)
        what = "Resource"
    else:
        assert data.topic_id is not None
        thing = await TopicRepository(session).get(data.topic_id)
        what = "Topic"
    if thing is None or not authz.can_read(principal, thing):
        raise NotFound(f"{what} not found")
    if await repository.holds(collection.id, data.resource_id, data.topic_id):
        raise Conflict(f"{what} is in this collection already")
    items = await repository.items(collection.id)
    if len(items) >= MAX_ITEMS:
        raise Conflict(f"A collection holds at most {MAX_ITEMS} items")
    item = CollectionItem(
        id=uuid.uuid4(),
        collection_id=collection.id,
        position=len(items),
        resource_id=data.resource_id,
        topic_id=data.topic_id,
        note=data.note,
        added_by_id=principal.user_id,
        added_at=utcnow(),
    )
    repository.add_item(item)
    await session.flush()
    order = [existing.item.id for existing in items]
    order.insert(min(data.position, len(order)) if data.position is not None else len(order), item.id)
    await repository.renumber(collection.id, order)
    collection.item_count = len(order)
    collection.updated_at = utcnow()
    await session.flush()
    await _tell_followers(session, principal, collection, thing, item, getattr(thing, "title", ""))
    shown = [
        visible.read
        for visible in await visible_items(session, principal, collection)
        if visible.read.id == item.id
    ]
    return shown[0]


async def _tell_followers(
    session: AsyncSession,
    principal: Principal,
    collection: Collection,
    thing: authz.Governed,
    item: CollectionItem,
    title: str,
) -> None:
    followers = await CollectionRepository(session).follower_ids(collection.id)
    readers = await notifications.readers_among(
        session,
        followers,
        lambda reader: authz.can_read(reader, collection) and authz.can_read(reader, thing),
    )
    subject: dict[str, object] = {"collection_id": collection.id, "item_id": item.id}
    if item.resource_id:
        subject["resource_id"] = item.resource_id
    if item.topic_id:
        subject["topic_id"] = item.topic_id
    notifications.notify(
        session,
        readers,
        NotificationKind.collection_item_added,
        actor_id=principal.user_id,
        subject=subject,
        text=f"资源包《{collection.title}》新增：{title}",
    )


async def remove_item(
    session: AsyncSession, principal: Principal, collection_id: uuid.UUID, item_id: uuid.UUID
) -> None:
    collection = await editable(session, principal, collection_id)
    repository = CollectionRepository(session)
    item = await repository.item(collection.id, item_id)
    if item is None:
        raise NotFound("Item not found")
    await repository.remove_item(item)
    order = [existing.item.id for existing in await repository.items(collection.id)]
    await repository.renumber(collection.id, order)
    collection.item_count = len(order)
    collection.updated_at = utcnow()
    await session.flush()


async def move_item(
    session: AsyncSession, principal: Principal, collection_id: uuid.UUID, item_id: uuid.UUID, position: int
) -> None:
    """Move one item to a position among all items (0 = first; beyond the end = last)."""
    collection = await editable(session, principal, collection_id)
    repository = CollectionRepository(session)
    order = [existing.item.id for existing in await repository.items(collection.id)]
    if item_id not in order:
        raise NotFound("Item not found")
    order.remove(item_id)
    order.insert(min(position, len(order)), item_id)
    await repository.renumber(collection.id, order)
    collection.updated_at = utcnow()
    await session.flush()


async def reorder(
    session: AsyncSession, principal: Principal, collection_id: uuid.UUID, item_ids: list[uuid.UUID]
) -> None:
    """A new order of every item, each once (409 when the list is not exactly the collection's items:
    one added or removed meanwhile)."""
    collection = await editable(session, principal, collection_id)
    repository = CollectionRepository(session)
    current = [existing.item.id for existing in await repository.items(collection.id)]
    if len(item_ids) != len(set(item_ids)) or set(item_ids) != set(current):
        raise Conflict("The order must name every item of the collection once; reload and try again")
    await repository.renumber(collection.id, item_ids)
    collection.updated_at = utcnow()
    await session.flush()


# -- following -------------------------------------------------------------------------------------


async def follow(
    session: AsyncSession, principal: Principal, collection_id: uuid.UUID, on: bool
) -> Collection:
    collection = await readable(session, principal, collection_id, for_update=True)
    repository = CollectionRepository(session)
    changed = await (repository.follow if on else repository.unfollow)(collection.id, principal.user_id)
    if changed:
        collection.follower_count = await repository.count_followers(collection.id)
        await session.flush()
    return collection


# -- review (services/review decides; these tell it about collections) ----------------------------


def _review_info(collection: Collection) -> SubjectInfo:
    return SubjectInfo(
        subject_type=REVIEW_SUBJECT_TYPE,
        subject_id=collection.id,
        owner_id=collection.owner_id,
        school_id=collection.school_id,
        title=collection.title,
        subject=collection.subject,
        stage=collection.stage,
        kind=REVIEW_SUBJECT_TYPE,
        visibility=collection.visibility,
    )


async def _review_load(session: AsyncSession, collection_id: uuid.UUID) -> SubjectInfo | None:
    collection = await CollectionRepository(session).get(collection_id)
    return _review_info(collection) if collection is not None else None


async def _review_approve(session: AsyncSession, collection_id: uuid.UUID, granted: Visibility) -> None:
    collection = await load(session, collection_id, for_update=True)
    collection.visibility = granted
    collection.requested_visibility = None
    collection.requested_at = None
    collection.declined_reason = None
    collection.reviewed_at = utcnow()
    await session.flush()


async def _review_reject(
    session: AsyncSession, collection_id: uuid.UUID, shown: Visibility, reason: str
) -> None:
    """The collection keeps showing what it showed; the reason shows to its editors."""
    collection = await load(session, collection_id, for_update=True)
    collection.visibility = shown
    collection.requested_visibility = None
    collection.requested_at = None
    collection.declined_reason = reason.strip()[:1_000] or "未通过审核"
    collection.reviewed_at = utcnow()
    await session.flush()


register_review_subject(
    REVIEW_SUBJECT_TYPE,
    SubjectType(
        load=_review_load,
        approve=_review_approve,
        reject=_review_reject,
        page_url=lambda collection_id: f"/collections/{collection_id}",
        label="专题资源包",
    ),
)
