"""A resource as search documents: its metadata, each page of its documents, each subtitle cue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import DocKind, SearchDocument
from services.context import AppContext
from services.indexing.service import DOCUMENT_SOURCES, PARENT_LOADERS, enqueue_reindex
from services.maintenance.repository import MaintenanceRunRepository
from services.resources.repository import IndexableResource, IndexingRepository, ResourceRepository
from services.resources.service import SEARCH_PARENT
from services.showcase.indexing import showcase_fields
from storage.database import utcnow
from storage.models.resources import Resource, ResourceFile
from storage.models.showcase import ShowcaseMark

# How stale `sort=popular` may be in the index: views are counted in the database at once and
# reach search in one reindex per resource per interval, however many views it had.
POPULARITY_REINDEX_INTERVAL = timedelta(minutes=5)
POPULARITY_BATCH = 500


def _common(resource: Resource, showcase: ShowcaseMark | None = None) -> dict[str, object]:
    return {
        "parent_id": str(resource.id),
        "title": resource.title,
        "stage": resource.stage,
        "grade": str(resource.grade) if resource.grade is not None else None,
        "subject": resource.subject,
        "edition": resource.edition,
        "volume": resource.volume,
        "unit": resource.unit,
        "resource_type": resource.resource_type.value,
        "tags": list(resource.tags),
        "school_id": str(resource.school_id) if resource.school_id else None,
        "owner_id": str(resource.owner_id),
        "visibility": resource.visibility.value,
        "status": resource.status.value,
        "created_at": resource.created_at,
        "popularity": resource.view_count,
        **showcase_fields(showcase),
    }


class _TimedText(Protocol):
    """A subtitle cue or a screen of text: numbered within its file, shown from start_s to end_s."""

    @property
    def number(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...


def _timed(
    common: dict[str, object],
    kind: DocKind,
    id_prefix: str,
    file: ResourceFile,
    timed: _TimedText,
    opens: uuid.UUID,
) -> SearchDocument:
    """The search document of a timed text: a hit opens the video ``opens`` at its second."""
    return SearchDocument(
        id=f"{common['parent_id']}/{id_prefix}/{file.id}/{timed.number}",
        kind=kind,
        body=timed.text,
        start_s=timed.start_s,
        end_s=timed.end_s,
        file_id=str(opens),
        **common,
    )


def documents_for(item: IndexableResource) -> list[SearchDocument]:
    resource = item.resource
    common = _common(resource, item.showcase)
    body = "\n".join(part for part in (resource.description, resource.unit, resource.lesson) if part)
    documents = [SearchDocument(id=str(resource.id), kind=DocKind.resource, body=body, **common)]
    for file, page in item.pages:
        documents.append(
            SearchDocument(
                id=f"{resource.id}/page/{file.id}/{page.number}",
                kind=DocKind.file_page,
                body=page.text,
                page=page.number,
                file_id=str(file.id),
                **common,
            )
        )
    for file, cue in item.cues:
        # A subtitle's cue opens the video it belongs to.
        opens = item.main_files.get(file.version_id, file.id)
        documents.append(_timed(common, DocKind.video_cue, "cue", file, cue, opens))
    for file, screen in item.screens:
        documents.append(_timed(common, DocKind.screen_text, "screen", file, screen, file.id))
    return documents


async def load_resource_documents(
    session: AsyncSession, resource_id: uuid.UUID
) -> list[SearchDocument] | None:
    loaded = await IndexingRepository(session).load([resource_id])
    return documents_for(loaded[0]) if loaded else None


async def all_resource_documents(
    session: AsyncSession, batch_size: int
) -> AsyncIterator[Sequence[SearchDocument]]:
    after = None
    resources = ResourceRepository(session)
    indexing = IndexingRepository(session)
    while ids := await resources.resource_ids_page(after, batch_size):
        after = ids[-1]
        documents = [document for item in await indexing.load(ids) for document in documents_for(item)]
        session.expunge_all()
        yield documents


async def reindex_viewed_resources(context: AppContext) -> int:
    """Queue a reindex of every resource viewed since the index last got its view count."""
    queued = 0
    while True:
        async with context.sessionmaker() as session, session.begin():
            repository = ResourceRepository(session)
            viewed = await repository.with_unindexed_views(POPULARITY_BATCH)
            for resource_id in viewed:
                enqueue_reindex(session, SEARCH_PARENT, resource_id)
            await repository.mark_views_indexed(viewed)
        queued += len(viewed)
        if len(viewed) < POPULARITY_BATCH:
            return queued


async def reindex_popularity_if_due(context: AppContext) -> int:
    """The periodic duty: one worker per interval, across every process, reindexes viewed resources."""
    async with context.sessionmaker() as session, session.begin():
        due = await MaintenanceRunRepository(session).take_turn(
            "popularity", utcnow(), POPULARITY_REINDEX_INTERVAL
        )
    return await reindex_viewed_resources(context) if due else 0


PARENT_LOADERS[SEARCH_PARENT] = load_resource_documents
DOCUMENT_SOURCES.append(all_resource_documents)
