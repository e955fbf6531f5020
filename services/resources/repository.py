"""All SQL for resources, their rounds and files, extracted text, and resumable uploads."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, String, and_, cast, delete, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defer, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from search.documents import AccessFilter
from services.documents.base import PageText
from storage.database import utcnow
from storage.models.identity import PublicationStatus, Visibility
from storage.models.resources import (
    FilePage,
    FilePurpose,
    Resource,
    ResourceFile,
    ResourceType,
    ResourceVersion,
    ResourceView,
    ScreenText,
    SubtitleCue,
    UploadPart,
    UploadSession,
    UploadStatus,
)
from storage.models.showcase import ShowcaseMark

if TYPE_CHECKING:
    # PyAV and numpy behind it: loaded where screens are read, not by every importer of this.
    from services.documents.screens import ScreenText as ScreenTextFound


def readable_clause(access: AccessFilter) -> ColumnElement[bool]:
    """authz's read rule as SQL, from the same AccessFilter the search backends use."""
    if access.see_everything:
        return true()
    published = Resource.status == PublicationStatus.published
    clauses: list[ColumnElement[bool]] = [
        and_(
            published, Resource.visibility.in_([Visibility(value) for value in access.published_visibilities])
        )
    ]
    if access.user_id:
        clauses.append(Resource.owner_id == uuid.UUID(access.user_id))
    if access.whole_district:
        clauses.append(Resource.visibility != Visibility.private)
    if access.school_id:
        school_id = uuid.UUID(access.school_id)
        clauses.append(
            and_(published, Resource.visibility == Visibility.school, Resource.school_id == school_id)
        )
        if access.whole_school:
            clauses.append(and_(Resource.school_id == school_id, Resource.visibility != Visibility.private))
    return or_(*clauses)


@dataclass(frozen=True)
class ResourceFilters:
    resource_type: ResourceType | None = None
    stage: str | None = None
    grade: int | None = None
    subject: str | None = None
    edition: str | None = None
    volume: str | None = None
    unit: str | None = None
    school_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    status: PublicationStatus | None = None
    tag: str | None = None


SORTS = {
    "newest": (Resource.created_at.desc(), Resource.id),
    "oldest": (Resource.created_at.asc(), Resource.id),
    "popular": (Resource.view_count.desc(), Resource.created_at.desc(), Resource.id),
    "title": (Resource.title.asc(), Resource.id),
}


class ResourceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, *objects: Resource | ResourceVersion | ResourceFile) -> None:
        self.session.add_all(objects)

    async def get(self, resource_id: uuid.UUID, *, for_update: bool = False) -> Resource | None:
        query = select(Resource).where(Resource.id == resource_id)
        if for_update:
            # Serializes adding rounds to one resource, so two uploads never take the same number.
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def get_with_files(self, resource_id: uuid.UUID) -> Resource | None:
        return await self.session.scalar(
            select(Resource)
            .where(Resource.id == resource_id)
            .options(selectinload(Resource.versions), selectinload(Resource.files))
            .execution_options(populate_existing=True)
        )

    async def list_readable(
        self,
        access: AccessFilter,
        filters: ResourceFilters,
        *,
        sort: str,
        offset: int,
        limit: int,
    ) -> tuple[list[Resource], int]:
        query = select(Resource).where(readable_clause(access))
        for column, value in (
            (Resource.resource_type, filters.resource_type),
            (Resource.stage, filters.stage),
            (Resource.grade, filters.grade),
            (Resource.subject, filters.subject),
            (Resource.edition, filters.edition),
            (Resource.volume, filters.volume),
            (Resource.unit, filters.unit),
            (Resource.school_id, filters.school_id),
            (Resource.owner_id, filters.owner_id),
            (Resource.status, filters.status),
        ):
            if value is not None:
                query = query.where(column == value)
        if filters.tag is not None:
            # Tags are a short JSON list stored as json.dumps wrote it, on SQLite and PostgreSQL alike.
            query = query.where(
                cast(Resource.tags, String).contains(json.dumps(filters.tag), autoescape=True)
            )
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(query.order_by(*SORTS[sort]).offset(offset).limit(limit))
        return list(rows.all()), int(total or 0)

    async def take_view(
        self, resource_id: uuid.UUID, viewer_key: str, now: datetime, window: timedelta
    ) -> bool:
        """Record that this viewer viewed the resource now, unless they already did within the window;
        True when it counts. One atomic upsert: parallel requests of one viewer, on any replica, count
        once (the second waits for the first's row and then finds it recent)."""
        insert = postgresql_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(ResourceView)
            .values(resource_id=resource_id, viewer_key=viewer_key, viewed_at=now)
            .on_conflict_do_update(
                index_elements=[ResourceView.resource_id, ResourceView.viewer_key],
                set_={"viewed_at": now},
                where=ResourceView.viewed_at <= now - window,
            )
            .returning(ResourceView.viewer_key)
        )
        return (await self.session.execute(statement)).first() is not None

    async def forget_views_before(self, cutoff: datetime) -> int:
        """Drop view records past their window: they no longer hold anyone back."""
        result = await self.session.execute(
            delete(ResourceView)
            .where(ResourceView.viewed_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def count_view(self, resource: Resource) -> None:
        # One atomic UPDATE: concurrent viewers on several replicas never lose a count. A view is no
        # edit: updated_at is named so that its onupdate default leaves it alone.
        await self.session.execute(
            update(Resource)
            .where(Resource.id == resource.id)
            .values(view_count=Resource.view_count + 1, updated_at=Resource.updated_at)
            .execution_options(synchronize_session=False)
        )
        # Shown at once, but not as a change to flush: that would write the count read earlier plus
        # one over concurrent views, and stamp updated_at.
        set_committed_value(resource, "view_count", resource.view_count + 1)

    async def with_unindexed_views(self, limit: int) -> list[uuid.UUID]:
        rows = await self.session.scalars(
            select(Resource.id)
            .where(Resource.view_count != Resource.indexed_view_count)
            .order_by(Resource.id)
            .limit(limit)
        )
        return list(rows.all())

    async def mark_views_indexed(self, resource_ids: Sequence[uuid.UUID]) -> None:
        # The count as of this statement: views after it differ again and are picked up next time,
        # and the reindex itself reads the count after this commits, so none is lost in between.
        await self.session.execute(
            update(Resource)
            .where(Resource.id.in_(resource_ids))
            .values(indexed_view_count=Resource.view_count, updated_at=Resource.updated_at)
            .execution_options(synchronize_session=False)
        )

    async def delete(self, resource: Resource) -> None:
        # Rounds, files, pages and cues go with it through ON DELETE CASCADE.
        await self.session.execute(delete(Resource).where(Resource.id == resource.id))
        self.session.expunge(resource)

    # -- rounds and files -------------------------------------------------------------------------

    async def lock_rounds(self, resource: Resource) -> None:
        """Hold, until this transaction ends, the lock that numbers the resource's rounds one at a time.

        A write to its row does it on both databases: PostgreSQL locks the row, and SQLite (which
        ignores FOR UPDATE and starts a transaction at its first write) takes its one write lock, so
        the rounds read after it include every round committed before.
        """
        await self.session.execute(
            update(Resource)
            .where(Resource.id == resource.id)
            .values(updated_at=resource.updated_at)
            .execution_options(synchronize_session=False)
        )

    async def next_version_number(self, resource_id: uuid.UUID) -> int:
        current = await self.session.scalar(
            select(func.max(ResourceVersion.number)).where(ResourceVersion.resource_id == resource_id)
        )
        return int(current or 0) + 1

    async def get_version(self, resource_id: uuid.UUID, number: int | None) -> ResourceVersion | None:
        query = select(ResourceVersion).where(ResourceVersion.resource_id == resource_id)
        if number is None:
            query = query.order_by(ResourceVersion.number.desc()).limit(1)
        else:
            query = query.where(ResourceVersion.number == number)
        return await self.session.scalar(query)

    async def get_file(self, resource_id: uuid.UUID, file_id: uuid.UUID) -> ResourceFile | None:
        return await self.session.scalar(
            select(ResourceFile).where(ResourceFile.id == file_id, ResourceFile.resource_id == resource_id)
        )

    async def get_file_by_id(self, file_id: uuid.UUID) -> ResourceFile | None:
        return await self.session.get(ResourceFile, file_id, populate_existing=True)

    async def files_of_version(self, version_id: uuid.UUID) -> list[ResourceFile]:
        rows = await self.session.scalars(
            select(ResourceFile)
            .where(ResourceFile.version_id == version_id)
            .order_by(ResourceFile.created_at)
        )
        return list(rows.all())

    async def files_of_resource(self, resource_id: uuid.UUID) -> list[ResourceFile]:
        rows = await self.session.scalars(
            select(ResourceFile)
            .where(ResourceFile.resource_id == resource_id)
            .order_by(ResourceFile.created_at)
        )
        return list(rows.all())

    async def posters_of_newest_rounds(
        self, resource_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ResourceFile]:
        """Per resource, the main file of its newest round that has a poster frame (for cards)."""
        if not resource_ids:
            return {}
        rows = await self.session.scalars(
            select(ResourceFile)
            .join(ResourceVersion, ResourceVersion.id == ResourceFile.version_id)
            .where(
                ResourceFile.resource_id.in_(resource_ids),
                ResourceFile.purpose == FilePurpose.primary,
                ResourceFile.poster_key.is_not(None),
            )
            .order_by(ResourceVersion.number.desc())
        )
        found: dict[uuid.UUID, ResourceFile] = {}
        for file in rows.all():
            found.setdefault(file.resource_id, file)
        return found

    async def delete_file(self, file: ResourceFile) -> None:
        await self.session.execute(delete(ResourceFile).where(ResourceFile.id == file.id))
        self.session.expunge(file)

    async def clear_extracted_text(self, file_id: uuid.UUID) -> None:
        """Drop a file's pages, cues and screens: they described content it no longer has."""
        await self.replace_pages(file_id, [])
        await self.replace_cues(file_id, [])
        await self.replace_screens(file_id, [])

    async def replace_screens(self, file_id: uuid.UUID, screens: Sequence[ScreenTextFound]) -> None:
        await self.session.execute(delete(ScreenText).where(ScreenText.file_id == file_id))
        self.session.add_all(
            ScreenText(
                file_id=file_id,
                number=number,
                start_s=screen.start_s,
                end_s=screen.end_s,
                text=screen.text,
                confidence=screen.confidence,
                thumbnail=screen.thumbnail,
            )
            for number, screen in enumerate(screens, start=1)
        )

    async def screens(self, file_id: uuid.UUID) -> list[ScreenText]:
        rows = await self.session.scalars(
            select(ScreenText).where(ScreenText.file_id == file_id).order_by(ScreenText.number)
        )
        return list(rows.all())

    async def screen(self, file_id: uuid.UUID, number: int) -> ScreenText | None:
        return await self.session.get(ScreenText, (file_id, number))

    async def replace_pages(self, file_id: uuid.UUID, pages: Sequence[PageText]) -> None:
        await self.session.execute(delete(FilePage).where(FilePage.file_id == file_id))
        self.session.add_all(
            FilePage(
                file_id=file_id,
                number=page.number,
                text=page.text,
                source=page.source,
                confidence=page.confidence,
            )
            for page in pages
        )

    async def replace_cues(self, file_id: uuid.UUID, cues: Sequence[tuple[float, float, str]]) -> None:
        await self.session.execute(delete(SubtitleCue).where(SubtitleCue.file_id == file_id))
        self.session.add_all(
            SubtitleCue(file_id=file_id, number=number, start_s=start, end_s=end, text=text)
            for number, (start, end, text) in enumerate(cues, start=1)
        )

    async def pages(self, file_id: uuid.UUID) -> list[FilePage]:
        rows = await self.session.scalars(
            select(FilePage).where(FilePage.file_id == file_id).order_by(FilePage.number)
        )
        return list(rows.all())

    async def cues(self, file_id: uuid.UUID) -> list[SubtitleCue]:
        rows = await self.session.scalars(
            select(SubtitleCue).where(SubtitleCue.file_id == file_id).order_by(SubtitleCue.number)
        )
        return list(rows.all())

    async def referenced_blob_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys a file, a poster or a live upload still points at."""
        found: set[str] = set()
        for column in (ResourceFile.blob_key, ResourceFile.poster_key):
            rows = await self.session.scalars(select(column).where(column.in_(keys)))
            found |= {key for key in rows.all() if key is not None}
        uploads = await self.session.scalars(
            select(UploadSession.blob_key).where(
                UploadSession.blob_key.in_(keys),
                UploadSession.status.in_(
                    [UploadStatus.active, UploadStatus.completed, UploadStatus.attached]
                ),
            )
        )
        found |= set(uploads.all())
        return {key for key in found if key is not None}

    async def files_page(self, after: uuid.UUID | None, limit: int) -> list[ResourceFile]:
        query = select(ResourceFile).order_by(ResourceFile.id).limit(limit)
        if after is not None:
            query = query.where(ResourceFile.id > after)
        return list((await self.session.scalars(query)).all())

    async def resource_ids_page(self, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        query = select(Resource.id).order_by(Resource.id).limit(limit)
        if after is not None:
            query = query.where(Resource.id > after)
        return list((await self.session.scalars(query)).all())


class UploadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, upload: UploadSession) -> UploadSession:
        self.session.add(upload)
        return upload

    async def get(self, upload_id: uuid.UUID, *, for_update: bool = False) -> UploadSession | None:
        query = select(UploadSession).where(UploadSession.id == upload_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def record_part(self, upload_id: uuid.UUID, part_number: int, size: int, etag: str) -> None:
        """Remember a part as stored; a part sent again replaces its record (one statement, so two
        copies of a part arriving together cannot both insert)."""
        values = {
            "upload_id": upload_id,
            "part_number": part_number,
            "size": size,
            "etag": etag,
            "stored_at": utcnow(),
        }
        insert = postgresql_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(UploadPart).values(**values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[UploadPart.upload_id, UploadPart.part_number],
                set_={"size": size, "etag": etag, "stored_at": values["stored_at"]},
            )
        )

    async def recorded_parts(self, upload_id: uuid.UUID) -> list[UploadPart]:
        rows = await self.session.scalars(
            select(UploadPart).where(UploadPart.upload_id == upload_id).order_by(UploadPart.part_number)
        )
        return list(rows.all())

    async def forget_parts(self, upload_id: uuid.UUID) -> None:
        """An upload that is no longer active has no parts to resume: their records go."""
        await self.session.execute(delete(UploadPart).where(UploadPart.upload_id == upload_id))

    async def open_uploads(self, owner_id: uuid.UUID, now: datetime) -> tuple[int, int]:
        """How many uploads the user has started and not attached (active or completed, not yet
        expired), and the bytes they declared."""
        row = (
            await self.session.execute(
                select(func.count(), func.coalesce(func.sum(UploadSession.size), 0)).where(
                    UploadSession.owner_id == owner_id,
                    UploadSession.status.in_([UploadStatus.active, UploadStatus.completed]),
                    UploadSession.expires_at > now,
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    async def change_status(self, upload: UploadSession, expected: UploadStatus, new: UploadStatus) -> bool:
        """Move the upload from `expected` to `new` if nobody moved it meanwhile: the check and the
        change are one statement, which holds on SQLite too (where FOR UPDATE does nothing)."""
        result = await self.session.execute(
            update(UploadSession)
            .where(UploadSession.id == upload.id, UploadSession.status == expected)
            .values(status=new)
            .execution_options(synchronize_session=False)
        )
        changed = bool(getattr(result, "rowcount", 0) == 1)
        if changed:
            set_committed_value(upload, "status", new)
        return changed

    async def active_store_upload_ids(self, store_upload_ids: Sequence[str]) -> set[str]:
        """Which of these store multipart uploads an active upload session still owns."""
        rows = await self.session.scalars(
            select(UploadSession.store_upload_id).where(
                UploadSession.store_upload_id.in_(store_upload_ids),
                UploadSession.status == UploadStatus.active,
            )
        )
        return set(rows.all())

    async def expired(self, now: datetime, limit: int) -> list[UploadSession]:
        rows = await self.session.scalars(
            select(UploadSession)
            .where(
                UploadSession.status.in_([UploadStatus.active, UploadStatus.completed]),
                UploadSession.expires_at < now,
            )
            .order_by(UploadSession.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows.all())


@dataclass(frozen=True)
class IndexableResource:
    """A resource with what search shows of it: the newest round's pages and subtitle cues."""

    resource: Resource
    pages: list[tuple[ResourceFile, FilePage]]
    cues: list[tuple[ResourceFile, SubtitleCue]]
    screens: list[tuple[ResourceFile, ScreenText]]
    # The main file of each round shown, so a subtitle hit opens the video it belongs to.
    main_files: dict[uuid.UUID, uuid.UUID]
    # Its 优秀课例 and featured marks (services/showcase), when it has any.
    showcase: ShowcaseMark | None = None


class IndexingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load(self, resource_ids: Sequence[uuid.UUID]) -> list[IndexableResource]:
        if not resource_ids:
            return []
        resources = list(
            (
                await self.session.scalars(
                    select(Resource).where(Resource.id.in_(resource_ids)).order_by(Resource.id)
                )
            ).all()
        )
        newest = (
            select(ResourceVersion.resource_id, func.max(ResourceVersion.number).label("number"))
            .where(ResourceVersion.resource_id.in_(resource_ids))
            .group_by(ResourceVersion.resource_id)
            .subquery()
        )
        current_files = (
            select(ResourceFile)
            .join(ResourceVersion, ResourceVersion.id == ResourceFile.version_id)
            .join(
                newest,
                and_(
                    newest.c.resource_id == ResourceVersion.resource_id,
                    newest.c.number == ResourceVersion.number,
                ),
            )
            .subquery()
        )
        file_alias = aliased(ResourceFile, current_files)
        pages = (
            await self.session.execute(
                select(file_alias, FilePage)
                .join(FilePage, FilePage.file_id == file_alias.id)
                .order_by(FilePage.file_id, FilePage.number)
            )
        ).all()
        cues = (
            await self.session.execute(
                select(file_alias, SubtitleCue)
                .join(SubtitleCue, SubtitleCue.file_id == file_alias.id)
                .order_by(SubtitleCue.file_id, SubtitleCue.number)
            )
        ).all()
        screens = (
            await self.session.execute(
                select(file_alias, ScreenText)
                .options(defer(ScreenText.thumbnail, raiseload=True))
                .join(ScreenText, ScreenText.file_id == file_alias.id)
                .order_by(ScreenText.file_id, ScreenText.number)
            )
        ).all()
        main_files = (
            await self.session.execute(
                select(file_alias.version_id, file_alias.id, file_alias.resource_id).where(
                    file_alias.purpose == FilePurpose.primary
                )
            )
        ).all()
        marks = {
            mark.resource_id: mark
            for mark in await self.session.scalars(
                select(ShowcaseMark).where(ShowcaseMark.resource_id.in_(resource_ids))
            )
        }
        by_resource: dict[uuid.UUID, IndexableResource] = {
            resource.id: IndexableResource(resource, [], [], [], {}, marks.get(resource.id))
            for resource in resources
        }
        for version_id, file_id, resource_id in main_files:
            by_resource[resource_id].main_files[version_id] = file_id
        for file, page in pages:
            by_resource[file.resource_id].pages.append((file, page))
        for file, cue in cues:
            by_resource[file.resource_id].cues.append((file, cue))
        for file, screen in screens:
            by_resource[file.resource_id].screens.append((file, screen))
        return list(by_resource.values())
