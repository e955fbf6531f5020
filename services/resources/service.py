"""Resource use cases: create, read, list, update, rounds (磨课), files, delete.

Blobs arrive already staged (see intake and uploads); these functions attach them to rows, queue
their processing and search indexing in the same transaction, and queue blob deletions for bytes no
row references any more.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Action, Governed, Principal
from services.errors import AppError, Conflict, Forbidden, NotFound
from services.identity import service as identity
from services.indexing.service import enqueue_reindex
from services.jobs.repository import JobRepository
from services.library import service as library
from services.maintenance.repository import BlobDeletionRepository
from services.resources import curriculum
from services.resources.intake import PRIMARY_CATEGORIES, StagedBlob
from services.resources.repository import ResourceFilters, ResourceRepository
from services.resources.schemas import FileCreate, ResourceCreate, ResourceUpdate, VersionCreate
from services.review import gate as review_gate
from services.review.registry import SubjectInfo, SubjectType
from services.review.registry import register as register_review_subject
from services.settings import Settings
from services.video import service as video
from storage.database import utcnow
from storage.models.identity import PublicationStatus, Visibility
from storage.models.resources import (
    FilePage,
    FilePurpose,
    ProcessingStatus,
    Resource,
    ResourceFile,
    ResourceType,
    ResourceVersion,
    SubtitleCue,
)
from storage.models.review import ReviewCause

PROCESS_FILE_JOB = "resources.process_file"
SEARCH_PARENT = "resource"
SHARE_TYPE = "resource"
RECORDING_TYPES = frozenset({ResourceType.lesson_record, ResourceType.micro_lesson})


class InvalidResource(AppError):
    status_code = 422
    code = "invalid_payload"


def check_can_upload(principal: Principal) -> None:
    if not authz.can_upload(principal):
        raise Forbidden("Students can find and open resources but not upload them")


def version_label(resource_type: ResourceType, number: int) -> str:
    return f"第{number}次试课" if resource_type in RECORDING_TYPES else f"第{number}版"


def _check_visibility(resource_school: uuid.UUID | None, visibility: Visibility) -> None:
    if visibility == Visibility.school and resource_school is None:
        raise InvalidResource("Only resources of a school can be visible to that school; choose district")


def _new_file(
    resource: Resource,
    version: ResourceVersion,
    purpose: FilePurpose,
    staged: StagedBlob,
    *,
    language: str | None = None,
) -> ResourceFile:
    return ResourceFile(
        id=uuid.uuid4(),
        resource_id=resource.id,
        version_id=version.id,
        purpose=purpose,
        filename=staged.filename,
        format=staged.detected.format,
        media_type=staged.detected.media_type,
        category=staged.detected.category.value,
        size=staged.size,
        sha256=staged.sha256,
        blob_key=staged.key,
        language=language,
        processing_status=ProcessingStatus.pending,
    )


async def _queue_processing(session: AsyncSession, file: ResourceFile, staged: StagedBlob) -> None:
    # The blob too: a job outlived by a replacement of the content then knows it is stale.
    payload: dict[str, str] = {"file_id": str(file.id), "blob_key": file.blob_key}
    if staged.expected_sha256:
        payload["expected_sha256"] = staged.expected_sha256
    JobRepository(session).add(PROCESS_FILE_JOB, payload)
    # A recording's streaming renditions (services/video), remade whenever its content is.
    await video.queue_renditions(session, file)


def _touch(session: AsyncSession, resource: Resource) -> None:
    resource.updated_at = utcnow()
    enqueue_reindex(session, SEARCH_PARENT, resource.id)


# -- review before district-wide publishing (services/review) ------------------------------------
# `visibility` stays what the resource is EFFECTIVELY shown to; what its owner asked for beyond what
# they may grant themselves waits in a review request (see services/review/rules.py).


def review_subject(resource: Resource) -> SubjectInfo:
    return SubjectInfo(
        subject_type=SHARE_TYPE,
        subject_id=resource.id,
        owner_id=resource.owner_id,
        school_id=resource.school_id,
        title=resource.title,
        subject=resource.subject,
        stage=resource.stage,
        kind=resource.resource_type.value,
        visibility=resource.visibility,
    )


async def _gate(
    session: AsyncSession,
    principal: Principal,
    resource: Resource,
    *,
    requested: Visibility,
    approved: Visibility | None,
    cause: ReviewCause,
    visibility_chosen: bool = False,
) -> None:
    """Show the resource to what it may show now; a change needing review files a request."""
    if resource.status != PublicationStatus.published:
        return
    resource.visibility = await review_gate.request_visibility(
        session,
        principal,
        review_subject(resource),
        requested=requested,
        approved=approved,
        cause=cause,
        visibility_chosen=visibility_chosen,
    )


async def _gate_content_change(
    session: AsyncSession, principal: Principal, resource: Resource, cause: ReviewCause
) -> None:
    """New content of a resource approved for the district goes back to review; it is shown to its
    school (the pre-review audience) until approved again."""
    await _gate(
        session, principal, resource, requested=resource.visibility, approved=resource.visibility, cause=cause
    )


# -- create, read, list -------------------------------------------------------------------------


async def create_resource(
    session: AsyncSession, principal: Principal, data: ResourceCreate, staged: StagedBlob
) -> Resource:
    check_can_upload(principal)
    _check_visibility(principal.school_id, data.visibility)
    now = utcnow()
    resource = Resource(
        id=uuid.uuid4(),
        title=data.title,
        description=data.description,
        resource_type=data.resource_type,
        stage=data.stage,
        grade=data.grade,
        subject=data.subject,
        edition=data.edition,
        volume=data.volume,
        unit=data.unit,
        lesson=data.lesson,
        tags=data.tags,
        owner_id=principal.user_id,
        school_id=principal.school_id,
        visibility=data.visibility,
        status=data.status,
        published_at=now if data.status == PublicationStatus.published else None,
        created_at=now,
        updated_at=now,
    )
    version = ResourceVersion(
        id=uuid.uuid4(),
        resource_id=resource.id,
        number=1,
        label=data.version_label or version_label(data.resource_type, 1),
        created_by_id=principal.user_id,
        created_at=now,
    )
    file = _new_file(resource, version, FilePurpose.primary, staged)
    await _gate(
        session,
        principal,
        resource,
        requested=data.visibility,
        approved=None,
        cause=ReviewCause.publish,
        visibility_chosen=True,
    )
    ResourceRepository(session).add(resource, version, file)
    await session.flush()
    await _queue_processing(session, file, staged)
    enqueue_reindex(session, SEARCH_PARENT, resource.id)
    return resource


async def load_resource(
    session: AsyncSession, resource_id: uuid.UUID, *, for_update: bool = False
) -> Resource:
    """The resource or 404, whoever asks: the caller applies the rule for what it is about to do."""
    resource = await ResourceRepository(session).get(resource_id, for_update=for_update)
    if resource is None:
        raise NotFound("Resource not found")
    return resource


async def readable_resource(
    session: AsyncSession,
    settings: Settings,
    principal: Principal | None,
    resource_id: uuid.UUID,
    share_token: str | None = None,
) -> Resource:
    """The resource if this user may read it, or a share token grants it; 404 otherwise."""
    resource = await load_resource(session, resource_id)
    if share_token:
        link = await identity.resolve_share_token(session, settings, share_token)
        if authz.share_grants(link, SHARE_TYPE, resource.id):
            return resource
        raise NotFound("Resource not found")
    if not authz.can_read(principal, resource) and await review_gate.may_review_subject(
        session, principal, SHARE_TYPE, resource.id
    ):
        return resource  # a reviewer opening what waits for their decision
    authz.authorize(principal, Action.read, resource)
    return resource


async def resource_with_files(session: AsyncSession, resource_id: uuid.UUID) -> Resource:
    resource = await ResourceRepository(session).get_with_files(resource_id)
    if resource is None:
        raise NotFound("Resource not found")
    return resource


def viewer_key(principal: Principal | None, share_token: str | None, client_address: str) -> str:
    """Who views, for counting views: a signed-in user wherever they are; a share link's guest or an
    anonymous visitor by address (and link). A digest, so no address is kept."""
    if principal is not None:
        who = f"user\x1f{principal.user_id}"
    elif share_token:
        who = f"share\x1f{share_token}\x1f{client_address}"
    else:
        who = f"address\x1f{client_address}"
    return hashlib.sha256(who.encode()).hexdigest()


async def count_view(
    session: AsyncSession,
    settings: Settings,
    resource: Resource,
    viewer: str,
    principal: Principal | None = None,
) -> None:
    """Count a view of the resource, at most once per viewer per window (it drives sort=popular); every
    opening by a signed-in viewer goes to their history (我的空间)."""
    repository = ResourceRepository(session)
    window = timedelta(minutes=settings.view_window_minutes)
    if await repository.take_view(resource.id, viewer, utcnow(), window):
        await repository.count_view(resource)
    await library.record_view(session, principal, resource.id)


async def forget_old_views(session: AsyncSession, settings: Settings) -> int:
    return await ResourceRepository(session).forget_views_before(
        utcnow() - timedelta(minutes=settings.view_window_minutes)
    )


async def list_resources(
    session: AsyncSession,
    principal: Principal | None,
    filters: ResourceFilters,
    *,
    sort: str,
    offset: int,
    limit: int,
) -> tuple[list[Resource], int]:
    return await ResourceRepository(session).list_readable(
        authz.search_access(principal), canonical_filters(filters), sort=sort, offset=offset, limit=limit
    )


def canonical_filters(filters: ResourceFilters) -> ResourceFilters:
    """Names spelled as resources store them, so ?edition=人民教育出版社 finds 人教版."""

    def spelled(canonical: Callable[[str], str], value: str | None) -> str | None:
        return canonical(value) if value else value

    return dataclasses.replace(
        filters,
        subject=spelled(curriculum.canonical_subject, filters.subject),
        edition=spelled(curriculum.normalize_edition, filters.edition),
        volume=spelled(curriculum.canonical_volume, filters.volume),
    )


# -- change ---------------------------------------------------------------------------------------


async def update_resource(
    session: AsyncSession,
    principal: Principal,
    resource_id: uuid.UUID,
    data: ResourceUpdate,
    *,
    review_on_edit: bool = False,
) -> Resource:
    resource = await load_resource(session, resource_id)
    authz.authorize(principal, Action.update, resource)
    changes = data.model_dump(exclude_unset=True)
    visible_before = resource.visibility
    published_before = resource.status == PublicationStatus.published
    words_before = (resource.title, resource.description)
    for required in ("title", "resource_type", "visibility", "status", "tags", "description"):
        if required in changes and changes[required] is None:
            raise InvalidResource(f"{required} cannot be empty")
    new_type = changes.get("resource_type")
    if new_type is not None and new_type != resource.resource_type:
        await _check_main_files_fit(session, resource, new_type)
    for name, value in changes.items():
        setattr(resource, name, value)
    if resource.grade is not None:
        stage = curriculum.stage_for_grade(resource.grade)
        if "stage" in changes and changes["stage"] not in (None, stage):
            raise InvalidResource(f"grade {resource.grade} belongs to {stage}, not {changes['stage']}")
        resource.stage = stage
    elif "grade" in changes and "stage" not in changes:
        # The stage was derived from the grade just removed; keeping it would file the resource
        # under a stage nobody chose.
        resource.stage = None
    _check_visibility(resource.school_id, resource.visibility)
    if authz.audience_narrowed(visible_before, resource.visibility):
        await identity.end_links_of_others(session, SHARE_TYPE, resource.id, resource.owner_id)
    if resource.status == PublicationStatus.published and resource.published_at is None:
        resource.published_at = utcnow()
    if resource.status == PublicationStatus.published:
        reworded = review_on_edit and (resource.title, resource.description) != words_before
        await _gate(
            session,
            principal,
            resource,
            requested=resource.visibility,
            approved=visible_before if published_before else None,
            cause=ReviewCause.edit if reworded else ReviewCause.publish,
            visibility_chosen="visibility" in changes or not published_before,
        )
    elif published_before:
        await review_gate.withdraw(session, SHARE_TYPE, resource.id, principal.user_id)
    _touch(session, resource)
    return resource


async def _check_main_files_fit(session: AsyncSession, resource: Resource, new_type: ResourceType) -> None:
    """Every round's main file must be a kind the new type is made of (a 教案 is no video)."""
    allowed = PRIMARY_CATEGORIES[new_type]
    files = await ResourceRepository(session).files_of_resource(resource.id)
    misfits = sorted(
        {file.category for file in files if file.purpose == FilePurpose.primary}
        - {category.value for category in allowed}
    )
    if misfits:
        kinds = "/".join(sorted(category.value for category in allowed))
        raise Conflict(
            f"A {new_type.value} is made of {kinds} files, but this resource's main files include "
            f"{'/'.join(misfits)}; replace them first, or keep the type",
            details=[{"resource_type": new_type.value, "main_file_categories": misfits}],
        )


async def delete_resource(session: AsyncSession, principal: Principal, resource_id: uuid.UUID) -> None:
    repository = ResourceRepository(session)
    resource = await load_resource(session, resource_id)
    authz.authorize(principal, Action.delete, resource)
    files = await repository.files_of_resource(resource.id)
    # The blobs go once this transaction has committed; if it rolls back, they are still referenced.
    BlobDeletionRepository(session).add([key for file in files for key in (file.blob_key, file.poster_key)])
    await video.forget_renditions(session, [file.id for file in files])
    await repository.delete(resource)
    await review_gate.withdraw(session, SHARE_TYPE, resource_id, principal.user_id)
    enqueue_reindex(session, SEARCH_PARENT, resource_id)


async def add_version(
    session: AsyncSession,
    principal: Principal,
    resource_id: uuid.UUID,
    data: VersionCreate,
    staged: StagedBlob,
) -> ResourceVersion:
    resource = await load_resource(session, resource_id)
    authz.authorize(principal, Action.update, resource)
    repository = ResourceRepository(session)
    # Without it, rounds sent at the same moment on SQLite took the same number and all but one
    # failed at commit, their fully received files thrown away.
    await repository.lock_rounds(resource)
    number = await repository.next_version_number(resource.id)
    version = ResourceVersion(
        id=uuid.uuid4(),
        resource_id=resource.id,
        number=number,
        label=data.label or version_label(resource.resource_type, number),
        note=data.note,
        created_by_id=principal.user_id,
        created_at=utcnow(),
    )
    file = _new_file(resource, version, FilePurpose.primary, staged)
    repository.add(version, file)
    await session.flush()
    await _queue_processing(session, file, staged)
    await _gate_content_change(session, principal, resource, ReviewCause.round)
    _touch(session, resource)
    return version


async def writable_resource(session: AsyncSession, principal: Principal, resource_id: uuid.UUID) -> Resource:
    resource = await load_resource(session, resource_id)
    authz.authorize(principal, Action.update, resource)
    return resource


async def target_version(session: AsyncSession, resource: Resource, number: int | None) -> ResourceVersion:
    version = await ResourceRepository(session).get_version(resource.id, number)
    if version is None:
        raise NotFound(f"Round {number} not found")
    return version


async def add_file(
    session: AsyncSession,
    principal: Principal,
    resource_id: uuid.UUID,
    data: FileCreate,
    staged: StagedBlob,
    *,
    review_on_edit: bool = False,
) -> ResourceFile:
    resource = await writable_resource(session, principal, resource_id)
    repository = ResourceRepository(session)
    version = await target_version(session, resource, data.version)
    if data.purpose == FilePurpose.subtitle:
        siblings = await repository.files_of_version(version.id)
        if not any(
            sibling.purpose == FilePurpose.primary and sibling.category == "video" for sibling in siblings
        ):
            raise Conflict("Subtitles belong to a video; this round has none")
    file = _new_file(resource, version, FilePurpose(data.purpose), staged, language=data.language)
    repository.add(file)
    await session.flush()
    await _queue_processing(session, file, staged)
    if review_on_edit:
        await _gate_content_change(session, principal, resource, ReviewCause.file)
    _touch(session, resource)
    return file


async def _file_of(session: AsyncSession, resource: Resource, file_id: uuid.UUID) -> ResourceFile:
    file = await ResourceRepository(session).get_file(resource.id, file_id)
    if file is None:
        raise NotFound("File not found")
    return file


async def replace_file(
    session: AsyncSession,
    principal: Principal,
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    staged: StagedBlob,
    *,
    review_on_edit: bool = False,
) -> ResourceFile:
    resource = await writable_resource(session, principal, resource_id)
    file = await _file_of(session, resource, file_id)
    if staged.detected.category.value != file.category:
        raise Conflict(f"A {file.category} file can only be replaced by another {file.category} file")
    BlobDeletionRepository(session).add([file.blob_key, file.poster_key])
    file.filename = staged.filename
    file.format = staged.detected.format
    file.media_type = staged.detected.media_type
    file.size = staged.size
    file.sha256 = staged.sha256
    file.blob_key = staged.key
    file.poster_key = None
    file.processing_status = ProcessingStatus.pending
    file.processing_error = None
    file.duration_s = file.width = file.height = file.page_count = None
    file.updated_at = utcnow()
    # The old content's text must not stay searchable (or shown) while the new one waits its turn;
    # _touch below has the index drop it.
    await ResourceRepository(session).clear_extracted_text(file.id)
    await session.flush()
    await _queue_processing(session, file, staged)
    if file.purpose == FilePurpose.primary or review_on_edit:
        await _gate_content_change(session, principal, resource, ReviewCause.file)
    _touch(session, resource)
    return file


async def delete_file(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, file_id: uuid.UUID
) -> None:
    resource = await writable_resource(session, principal, resource_id)
    file = await _file_of(session, resource, file_id)
    if file.purpose == FilePurpose.primary:
        raise Conflict("A round's main file cannot be removed; replace it, or delete the resource")
    BlobDeletionRepository(session).add([file.blob_key, file.poster_key])
    await ResourceRepository(session).delete_file(file)
    _touch(session, resource)


async def readable_file(
    session: AsyncSession,
    settings: Settings,
    principal: Principal | None,
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    share_token: str | None = None,
) -> ResourceFile:
    resource = await readable_resource(session, settings, principal, resource_id, share_token)
    return await _file_of(session, resource, file_id)


async def file_cues(session: AsyncSession, file: ResourceFile) -> list[SubtitleCue]:
    return await ResourceRepository(session).cues(file.id)


async def file_pages(session: AsyncSession, file: ResourceFile) -> list[FilePage]:
    return await ResourceRepository(session).pages(file.id)


async def poster_files(session: AsyncSession, resource_ids: list[uuid.UUID]) -> dict[uuid.UUID, ResourceFile]:
    """The file whose poster stands for each resource on cards; only for resources already readable."""
    return await ResourceRepository(session).posters_of_newest_rounds(resource_ids)


def processing_summary(files: list[ResourceFile]) -> ProcessingStatus:
    statuses = {file.processing_status for file in files}
    if ProcessingStatus.failed in statuses:
        return ProcessingStatus.failed
    if ProcessingStatus.pending in statuses:
        return ProcessingStatus.pending
    return ProcessingStatus.ready


async def _load_shareable(session: AsyncSession, object_id: uuid.UUID) -> Governed | None:
    return await ResourceRepository(session).get(object_id)


identity.SHAREABLE[SHARE_TYPE] = _load_shareable


async def _review_load(session: AsyncSession, resource_id: uuid.UUID) -> SubjectInfo | None:
    resource = await ResourceRepository(session).get(resource_id)
    return review_subject(resource) if resource is not None else None


async def _review_approve(session: AsyncSession, resource_id: uuid.UUID, granted: Visibility) -> None:
    resource = await load_resource(session, resource_id, for_update=True)
    resource.visibility = granted
    _touch(session, resource)


async def _review_reject(
    session: AsyncSession, resource_id: uuid.UUID, shown: Visibility, reason: str
) -> None:
    """Nothing to undo: the resource never showed beyond what it shows meanwhile."""


register_review_subject(
    SHARE_TYPE,
    SubjectType(
        load=_review_load,
        approve=_review_approve,
        reject=_review_reject,
        page_url=lambda resource_id: f"/resources/{resource_id}",
        label="资源",
    ),
)
# People are @mentioned about a lesson in its review.
identity.MENTION_PLACES["resource"] = _load_shareable
