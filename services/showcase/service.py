"""Use cases of the showcase: reviewers mark resources as exemplary (优秀课例) and feature them.

A mark is kept with who set it and when; every change reindexes the resource through the search
outbox, so the 优秀课例 facet and the ranking boost follow.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.errors import Conflict, Forbidden, NotFound
from services.indexing.service import enqueue_reindex
from services.resources.service import SEARCH_PARENT, load_resource
from services.showcase.repository import ShowcaseRepository
from services.showcase.schemas import ShowcaseItem, ShowcaseRead, exemplary_label
from storage.database import utcnow
from storage.models.identity import PublicationStatus, Visibility
from storage.models.resources import Resource
from storage.models.showcase import ExemplaryLevel, ShowcaseMark

# Levels beyond the school show the resource to the district: it must be readable district-wide.
_WIDE_LEVELS = frozenset({ExemplaryLevel.district, ExemplaryLevel.city})
_WIDE_VISIBILITIES = frozenset({Visibility.district, Visibility.public})


def read(resource_id: uuid.UUID, mark: ShowcaseMark | None) -> ShowcaseRead:
    if mark is None:
        return ShowcaseRead(resource_id=resource_id)
    return ShowcaseRead(
        resource_id=resource_id,
        exemplary_level=mark.exemplary_level,
        exemplary_year=mark.exemplary_year,
        exemplary_label=exemplary_label(mark.exemplary_level, mark.exemplary_year),
        marked_by_id=mark.marked_by_id,
        marked_at=mark.marked_at,
        featured=mark.featured_at is not None,
        featured_by_id=mark.featured_by_id,
        featured_at=mark.featured_at,
    )


def item(resource: Resource, mark: ShowcaseMark) -> ShowcaseItem:
    return ShowcaseItem(
        resource_id=resource.id,
        title=resource.title,
        resource_type=resource.resource_type,
        subject=resource.subject,
        grade=resource.grade,
        exemplary_level=mark.exemplary_level,
        exemplary_year=mark.exemplary_year,
        exemplary_label=exemplary_label(mark.exemplary_level, mark.exemplary_year),
        featured=mark.featured_at is not None,
    )


async def _readable(session: AsyncSession, principal: Principal, resource_id: uuid.UUID) -> Resource:
    resource = await load_resource(session, resource_id)
    if not authz.can_read(principal, resource):
        raise NotFound("Resource not found")
    return resource


def _require_published(resource: Resource) -> None:
    if resource.status != PublicationStatus.published or resource.visibility == Visibility.private:
        raise Conflict("Only published resources others can read are marked or featured")


async def showcase_of(
    session: AsyncSession, principal: Principal | None, resource_id: uuid.UUID
) -> ShowcaseRead:
    resource = await load_resource(session, resource_id)
    if not authz.can_read(principal, resource):
        raise NotFound("Resource not found")
    return read(resource.id, await ShowcaseRepository(session).get(resource.id))


async def mark_exemplary(
    session: AsyncSession,
    principal: Principal,
    resource_id: uuid.UUID,
    level: ExemplaryLevel,
    year: int | None,
) -> ShowcaseRead:
    resource = await _readable(session, principal, resource_id)
    repository = ShowcaseRepository(session)
    existing = await repository.get(resource.id)
    if not authz.can_mark_exemplary(principal, resource, level.value) or (
        # Lowering or replacing a mark takes the right to give the mark it replaces.
        existing is not None
        and existing.exemplary_level is not None
        and not authz.can_mark_exemplary(principal, resource, existing.exemplary_level.value)
    ):
        raise Forbidden("You may not mark this resource at that level")
    _require_published(resource)
    if level in _WIDE_LEVELS and resource.visibility not in _WIDE_VISIBILITIES:
        raise Conflict(
            "Only resources shown to the whole district or the public are exemplary beyond the school"
        )
    mark = await repository.get_or_add(resource.id)
    mark.exemplary_level = level
    mark.exemplary_year = year if year is not None else utcnow().year
    mark.marked_by_id = principal.user_id
    mark.marked_at = utcnow()
    await session.flush()
    enqueue_reindex(session, SEARCH_PARENT, resource.id)
    return read(resource.id, mark)


async def unmark_exemplary(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID
) -> ShowcaseRead:
    resource = await _readable(session, principal, resource_id)
    repository = ShowcaseRepository(session)
    mark = await repository.get(resource.id)
    if mark is None or mark.exemplary_level is None:
        if not authz.can_mark_exemplary(principal, resource, ExemplaryLevel.school.value):
            raise Forbidden("You may not mark this resource")
        return read(resource.id, mark)
    if not authz.can_mark_exemplary(principal, resource, mark.exemplary_level.value):
        raise Forbidden("You may not remove this mark")
    mark.exemplary_level = None
    mark.exemplary_year = None
    mark.marked_by_id = principal.user_id
    mark.marked_at = utcnow()
    await repository.drop_if_empty(mark)
    enqueue_reindex(session, SEARCH_PARENT, resource.id)
    return read(resource.id, await repository.get(resource.id))


async def set_featured(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, featured: bool
) -> ShowcaseRead:
    resource = await _readable(session, principal, resource_id)
    if not authz.can_feature(principal, resource):
        raise Forbidden("Research leads and district administrators feature resources")
    repository = ShowcaseRepository(session)
    if featured:
        _require_published(resource)
        mark = await repository.get_or_add(resource.id)
        if mark.featured_at is None:
            mark.featured_at = utcnow()
            mark.featured_by_id = principal.user_id
        await session.flush()
    else:
        existing = await repository.get(resource.id)
        if existing is None or existing.featured_at is None:
            return read(resource.id, existing)
        existing.featured_at = None
        existing.featured_by_id = principal.user_id
        await repository.drop_if_empty(existing)
    enqueue_reindex(session, SEARCH_PARENT, resource.id)
    return read(resource.id, await repository.get(resource.id))


async def listed(
    session: AsyncSession,
    principal: Principal | None,
    *,
    featured: bool | None = None,
    level: ExemplaryLevel | None = None,
    year: int | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[tuple[Resource, ShowcaseMark]], int]:
    """Featured (featured=True) or exemplary resources the caller may open."""
    return await ShowcaseRepository(session).listed(
        authz.search_access(principal), featured=featured, level=level, year=year, offset=offset, limit=limit
    )


async def marks_of(session: AsyncSession, resource_ids: list[uuid.UUID]) -> dict[uuid.UUID, ShowcaseMark]:
    return await ShowcaseRepository(session).by_resources(resource_ids)
