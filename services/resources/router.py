"""HTTP for resources, their rounds and files, content serving and resumable uploads."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.blob_http import blob_response
from services.context import PRESIGNED_LINK_TTL
from services.deps import BlobStoreDep, SessionDep, SettingsDep
from services.errors import AppError, error_body
from services.identity.deps import CurrentPrincipal, OptionalPrincipal
from services.request_limits import allow_streamed_body
from services.resources import service, uploads
from services.resources.filetypes import FileCategory, served_filename
from services.resources.intake import (
    ATTACHMENT_CATEGORIES,
    PRIMARY_CATEGORIES,
    SUBTITLE_CATEGORIES,
    StagedBlob,
    stream_to_store,
)
from services.resources.repository import SORTS, ResourceFilters
from services.resources.schemas import (
    CueRead,
    FileCreate,
    FileRead,
    FileReplace,
    PageTextRead,
    PartUrl,
    PartUrlsRead,
    PartUrlsRequest,
    ResourceCreate,
    ResourceRead,
    ResourceSummary,
    ResourceUpdate,
    UploadCreate,
    UploadedPartRead,
    UploadRead,
    VersionCreate,
    VersionRead,
)
from services.schemas import Page
from services.settings import Settings
from services.streaming_form import InvalidForm, StreamingForm
from storage.blobs.base import MAX_PARTS, BlobStore
from storage.models.identity import PublicationStatus
from storage.models.resources import FilePurpose, Resource, ResourceFile, ResourceType, UploadSession

router = APIRouter(prefix="/api/v1")
M = TypeVar("M", bound=BaseModel)

ALL_CATEGORIES = frozenset(FileCategory)
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]
ShareToken = Annotated[str | None, Query(alias="share", max_length=200, description="A share-link token")]


def _upload_body(description: str) -> dict[str, Any]:
    """OpenAPI for endpoints that take either a streamed multipart file or JSON naming an upload."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "metadata": {"type": "string", "description": "The JSON object, as text"},
                            "file": {"type": "string", "format": "binary"},
                        },
                    }
                },
                "application/json": {"schema": {"type": "object"}},
            },
        }
    }


# -- receiving files -------------------------------------------------------------------------------


def _parse_metadata(model: type[M], text: str | None) -> M:
    try:
        return model.model_validate_json(text or "{}")
    except ValidationError as exc:
        details = [
            {
                "loc": ["metadata", *err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        raise InvalidForm("The metadata is invalid", details=details) from exc


async def _discard(store: BlobStore, staged: StagedBlob | None) -> None:
    if staged is not None and not staged.from_upload:
        # Only bytes this request wrote; a resumable upload stays the client's to retry with.
        await store.delete(staged.key)


async def receive(
    request: Request,
    store: BlobStore,
    settings: Settings,
    session_take: Callable[[M, Collection[FileCategory]], Any],
    model: type[M],
    allowed_for: Callable[[M], Collection[FileCategory]],
    what: str,
) -> tuple[M, StagedBlob]:
    """Metadata plus a staged file, from multipart (file streamed to the store) or JSON (upload_id).

    In multipart, the ``metadata`` field should come before the file so a mistake is reported before
    the upload; if it comes after, the stored bytes are removed again when it turns out invalid.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            raw = await request.body()
            metadata = _parse_metadata(model, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidForm("The body is not UTF-8 JSON") from exc
        upload_id = getattr(metadata, "upload_id", None)
        if upload_id is None:
            raise InvalidForm("Send the file as multipart/form-data, or name a completed upload_id")
        staged: StagedBlob = await session_take(metadata, allowed_for(metadata))
        return metadata, staged

    form = StreamingForm(request)
    file = await form.next_file()
    early = _parse_metadata(model, form.fields["metadata"]) if "metadata" in form.fields else None
    if file is None or file.field_name != "file":
        raise InvalidForm("The form needs a file field named 'file'")
    staged = await stream_to_store(
        store,
        settings,
        filename=file.filename,
        chunks=form.file_chunks(),
        allowed=allowed_for(early) if early is not None else ALL_CATEGORIES,
        what=what,
    )
    try:
        await form.read_remaining_fields()
        metadata = early or _parse_metadata(model, form.fields.get("metadata"))
        if staged.detected.category not in allowed_for(metadata):
            kinds = "/".join(sorted(category.value for category in allowed_for(metadata)))
            raise AppError(
                f"{what} must be {kinds}; {staged.filename!r} is {staged.detected.format}",
                415,
                code="unsupported_media_type",
            )
    except BaseException:
        await _discard(store, staged)
        raise
    return metadata, staged


# -- presenting ------------------------------------------------------------------------------------


def _content_url(file: ResourceFile) -> str:
    return f"/api/v1/resources/{file.resource_id}/files/{file.id}/content"


def file_read(file: ResourceFile) -> FileRead:
    return FileRead.model_validate(
        {
            **{column: getattr(file, column) for column in FileRead.model_fields if hasattr(file, column)},
            "has_poster": file.poster_key is not None,
            "content_url": _content_url(file),
        }
    )


def resource_read(resource: Resource) -> ResourceRead:
    files_by_version: dict[uuid.UUID, list[FileRead]] = {}
    for file in resource.files:
        files_by_version.setdefault(file.version_id, []).append(file_read(file))
    versions = [
        VersionRead(
            id=version.id,
            number=version.number,
            label=version.label,
            note=version.note,
            created_by_id=version.created_by_id,
            created_at=version.created_at,
            files=files_by_version.get(version.id, []),
        )
        for version in sorted(resource.versions, key=lambda version: version.number, reverse=True)
    ]
    summary = ResourceSummary.model_validate(resource)
    return ResourceRead(
        **summary.model_dump(),
        description=resource.description,
        processing_status=service.processing_summary(list(resource.files)),
        current_version=versions[0].number if versions else 0,
        versions=versions,
    )


async def _detail(session: SessionDep, resource_id: uuid.UUID) -> ResourceRead:
    return resource_read(await service.resource_with_files(session, resource_id))


# -- resources -------------------------------------------------------------------------------------


@router.post(
    "/resources",
    response_model=ResourceRead,
    status_code=201,
    tags=["resources"],
    openapi_extra=_upload_body(
        "metadata (ResourceCreate) and the main file, or ResourceCreate with upload_id"
    ),
)
async def create_resource(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
) -> ResourceRead:
    """Upload a resource: its description and its main file, streamed straight to object storage."""
    service.check_can_upload(principal)

    async def take(metadata: ResourceCreate, allowed: Collection[FileCategory]) -> StagedBlob:
        assert metadata.upload_id is not None
        return await uploads.take_completed(session, principal, metadata.upload_id, allowed, "The file")

    data, staged = await receive(
        request,
        store,
        settings,
        take,
        ResourceCreate,
        lambda metadata: PRIMARY_CATEGORIES[metadata.resource_type],
        "The main file of this resource type",
    )
    try:
        resource = await service.create_resource(session, principal, data, staged)
    except BaseException:
        await _discard(store, staged)
        raise
    return await _detail(session, resource.id)


@router.get("/resources", response_model=Page[ResourceSummary], tags=["resources"])
async def list_resources(
    principal: OptionalPrincipal,
    session: SessionDep,
    resource_type: ResourceType | None = None,
    stage: Annotated[str | None, Query(max_length=8)] = None,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    subject: Annotated[str | None, Query(max_length=32)] = None,
    edition: Annotated[str | None, Query(max_length=64)] = None,
    volume: Annotated[str | None, Query(max_length=16)] = None,
    unit: Annotated[str | None, Query(max_length=100)] = None,
    school_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    status: PublicationStatus | None = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    sort: Literal["newest", "oldest", "popular", "title"] = "newest",
    offset: Offset = 0,
    limit: Limit = 20,
) -> Page[ResourceSummary]:
    """Resources this user may open, filtered by the curriculum, newest first by default."""
    assert sort in SORTS
    filters = ResourceFilters(
        resource_type=resource_type,
        stage=stage,
        grade=grade,
        subject=subject,
        edition=edition,
        volume=volume,
        unit=unit,
        school_id=school_id,
        owner_id=owner_id,
        status=status,
        tag=tag,
    )
    resources, total = await service.list_resources(
        session, principal, filters, sort=sort, offset=offset, limit=limit
    )
    return Page(
        items=[ResourceSummary.model_validate(resource) for resource in resources],
        total=total,
        offset=offset,
        limit=limit,
    )


@router.get("/resources/{resource_id}", response_model=ResourceRead, tags=["resources"])
async def read_resource(
    resource_id: uuid.UUID,
    request: Request,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    share: ShareToken = None,
) -> ResourceRead:
    """A resource with all its rounds (newest first) and files; counts as a view (once per viewer per
    JIAOYUN_VIEW_WINDOW_MINUTES)."""
    resource = await service.readable_resource(session, settings, principal, resource_id, share)
    viewer = service.viewer_key(principal, share, request.client.host if request.client else "unknown")
    await service.count_view(session, settings, resource, viewer, principal)
    return await _detail(session, resource.id)


@router.patch("/resources/{resource_id}", response_model=ResourceRead, tags=["resources"])
async def update_resource(
    resource_id: uuid.UUID,
    data: ResourceUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> ResourceRead:
    resource = await service.update_resource(
        session, principal, resource_id, data, review_on_edit=settings.review_on_edit
    )
    await session.flush()
    return await _detail(session, resource.id)


@router.delete("/resources/{resource_id}", status_code=204, tags=["resources"])
async def delete_resource(
    resource_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Delete a resource with all its rounds and files; their blobs are removed after commit."""
    await service.delete_resource(session, principal, resource_id)
    return Response(status_code=204)


@router.post(
    "/resources/{resource_id}/versions",
    response_model=VersionRead,
    status_code=201,
    tags=["resources"],
    openapi_extra=_upload_body("metadata (VersionCreate) and the round's main file"),
)
async def add_version(
    resource_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
) -> VersionRead:
    """A new round (磨课): its own main file, shown by default from now on."""
    resource = await service.writable_resource(session, principal, resource_id)
    allowed = PRIMARY_CATEGORIES[resource.resource_type]

    async def take(metadata: VersionCreate, allowed: Collection[FileCategory]) -> StagedBlob:
        assert metadata.upload_id is not None
        return await uploads.take_completed(session, principal, metadata.upload_id, allowed, "The file")

    data, staged = await receive(
        request,
        store,
        settings,
        take,
        VersionCreate,
        lambda _: allowed,
        "The main file of this resource type",
    )
    try:
        version = await service.add_version(session, principal, resource_id, data, staged)
    except BaseException:
        await _discard(store, staged)
        raise
    detail = await _detail(session, resource_id)
    return next(item for item in detail.versions if item.id == version.id)


def _file_categories(metadata: FileCreate) -> Collection[FileCategory]:
    return SUBTITLE_CATEGORIES if metadata.purpose == FilePurpose.subtitle else ATTACHMENT_CATEGORIES


@router.post(
    "/resources/{resource_id}/files",
    response_model=FileRead,
    status_code=201,
    tags=["resources"],
    openapi_extra=_upload_body("metadata (FileCreate: purpose subtitle|attachment, version) and the file"),
)
async def add_file(
    resource_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
) -> FileRead:
    """Attach subtitles (.srt/.vtt) to a round's video, or another file to a round."""
    await service.writable_resource(session, principal, resource_id)

    async def take(metadata: FileCreate, allowed: Collection[FileCategory]) -> StagedBlob:
        assert metadata.upload_id is not None
        return await uploads.take_completed(session, principal, metadata.upload_id, allowed, "The file")

    data, staged = await receive(request, store, settings, take, FileCreate, _file_categories, "This file")
    try:
        file = await service.add_file(
            session, principal, resource_id, data, staged, review_on_edit=settings.review_on_edit
        )
    except BaseException:
        await _discard(store, staged)
        raise
    return file_read(file)


@router.put(
    "/resources/{resource_id}/files/{file_id}/content",
    response_model=FileRead,
    tags=["resources"],
    openapi_extra=_upload_body("the new content (same kind of file), or FileReplace with upload_id"),
)
async def replace_file(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
) -> FileRead:
    """Replace a file's content; it is processed again and the old bytes are removed."""
    await service.writable_resource(session, principal, resource_id)

    async def take(metadata: FileReplace, allowed: Collection[FileCategory]) -> StagedBlob:
        assert metadata.upload_id is not None
        return await uploads.take_completed(session, principal, metadata.upload_id, allowed, "The file")

    _data, staged = await receive(
        request, store, settings, take, FileReplace, lambda _: ALL_CATEGORIES, "The file"
    )
    try:
        file = await service.replace_file(
            session, principal, resource_id, file_id, staged, review_on_edit=settings.review_on_edit
        )
    except BaseException:
        await _discard(store, staged)
        raise
    return file_read(file)


@router.delete("/resources/{resource_id}/files/{file_id}", status_code=204, tags=["resources"])
async def delete_file(
    resource_id: uuid.UUID, file_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    await service.delete_file(session, principal, resource_id, file_id)
    return Response(status_code=204)


# -- content ---------------------------------------------------------------------------------------


@router.get(
    "/resources/{resource_id}/files/{file_id}/content",
    tags=["resources"],
    response_class=Response,
    responses={
        200: {"description": "The file"},
        206: {"description": "The requested byte range"},
        304: {"description": "Not modified (ETag)"},
        307: {"description": "Redirect to a short-lived object-storage URL (S3 mode, redirect=true)"},
        416: {"description": "Range not satisfiable"},
    },
)
async def read_content(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    share: ShareToken = None,
    download: bool = False,
    redirect: bool = False,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """The file's bytes: Range requests for video seeking, ETag, UTF-8 download names."""
    file = await service.readable_file(session, settings, principal, resource_id, file_id, share)
    filename = served_filename(file.filename, file.format)
    if redirect and settings.content_redirects and store.name == "s3":
        url = await store.presigned_get_url(
            file.blob_key,
            expires=PRESIGNED_LINK_TTL,
            download_name=filename if download else None,
            content_type=file.media_type,
        )
        return RedirectResponse(url, status_code=307)
    return await blob_response(
        store,
        file.blob_key,
        range_header=range_header,
        if_none_match=if_none_match,
        content_type=file.media_type,
        filename=filename,
        inline=not download,
    )


@router.get(
    "/resources/{resource_id}/files/{file_id}/poster",
    tags=["resources"],
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A frame of the video"}},
)
async def read_poster(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    share: ShareToken = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    file = await service.readable_file(session, settings, principal, resource_id, file_id, share)
    if file.poster_key is None:
        raise AppError("This file has no poster (yet)", 404, code="not_found")
    return await blob_response(
        store, file.poster_key, range_header=None, if_none_match=if_none_match, content_type="image/jpeg"
    )


@router.get("/resources/{resource_id}/files/{file_id}/cues", response_model=list[CueRead], tags=["resources"])
async def read_cues(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    share: ShareToken = None,
) -> list[CueRead]:
    """Timed subtitle cues, for a transcript beside the player."""
    file = await service.readable_file(session, settings, principal, resource_id, file_id, share)
    return [CueRead.model_validate(cue) for cue in await service.file_cues(session, file)]


@router.get(
    "/resources/{resource_id}/files/{file_id}/pages", response_model=list[PageTextRead], tags=["resources"]
)
async def read_pages(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    share: ShareToken = None,
) -> list[PageTextRead]:
    """Text of each page or slide, as extracted for search."""
    file = await service.readable_file(session, settings, principal, resource_id, file_id, share)
    return [PageTextRead.model_validate(page) for page in await service.file_pages(session, file)]


# -- resumable uploads -------------------------------------------------------------------------------


async def _upload_read(session: AsyncSession, store: BlobStore, upload: UploadSession) -> UploadRead:
    parts = await uploads.stored_parts(session, store, upload)
    detected = uploads.detected_of(upload)
    return UploadRead(
        id=upload.id,
        filename=upload.filename,
        size=upload.size,
        part_size=upload.part_size,
        part_count=uploads.part_count(upload),
        status=upload.status.value,
        expires_at=upload.expires_at,
        parts=[UploadedPartRead(part_number=p.part_number, size=p.size, etag=p.etag) for p in parts],
        detected_format=detected.format if detected else None,
    )


@router.post(
    "/uploads",
    response_model=UploadRead,
    status_code=201,
    tags=["uploads"],
    responses={
        413: {"description": "Larger than any file type's limit"},
        429: {"description": "Too many unfinished uploads, or too many bytes in them"},
    },
)
async def start_upload(
    data: UploadCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
) -> UploadRead:
    """Start a resumable upload; then send parts, complete it, and name it when creating a resource."""
    upload = await uploads.start_upload(session, store, settings, principal, data)
    return await _upload_read(session, store, upload)


@router.get("/uploads/{upload_id}", response_model=UploadRead, tags=["uploads"])
async def read_upload(
    upload_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, store: BlobStoreDep
) -> UploadRead:
    """The upload's state and the parts already stored: resume by sending only the others."""
    return await _upload_read(session, store, await uploads.own_upload(session, principal, upload_id))


@router.put(
    "/uploads/{upload_id}/parts/{part_number}",
    response_model=UploadedPartRead,
    tags=["uploads"],
    responses={
        409: {"description": "The upload is no longer active"},
        413: {"description": "The first part shows a type whose limit the declared size exceeds"},
        415: {"description": "The first part shows a type Jiaoyun does not accept"},
        503: {"description": "Object storage unavailable, or this process relays all the parts it may"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def put_part(
    upload_id: uuid.UUID,
    part_number: Annotated[int, Path(ge=1, le=MAX_PARTS)],
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
) -> UploadedPartRead | JSONResponse:
    """Send one part through the API (sending the same part again replaces it). The first part
    decides the file's type: one refused then (415, or 413 over the type's limit) ends the upload."""
    upload = await uploads.own_upload(session, principal, upload_id)
    uploads.check_part_size_header(upload, part_number, request.headers.get("content-length"))
    # Streamed to the store and capped at the part's size by put_part, not by the ceiling on JSON bodies.
    allow_streamed_body(request)
    part, refusal = await uploads.put_part(
        session, store, settings, principal, upload_id, part_number, request.stream()
    )
    if refusal is not None:
        # Returned, not raised, so the ended session is committed with the error.
        return JSONResponse(
            error_body(refusal.code, refusal.message, refusal.details), status_code=refusal.status_code
        )
    return UploadedPartRead(part_number=part.part_number, size=part.size, etag=part.etag)


@router.post("/uploads/{upload_id}/part-urls", response_model=PartUrlsRead, tags=["uploads"])
async def part_urls(
    upload_id: uuid.UUID,
    data: PartUrlsRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    store: BlobStoreDep,
) -> PartUrlsRead:
    """Presigned URLs to PUT parts straight to object storage, keeping the API out of the data path."""
    expires_at, urls = await uploads.part_urls(session, store, principal, upload_id, data.part_numbers)
    return PartUrlsRead(expires_at=expires_at, urls=[PartUrl(part_number=n, url=url) for n, url in urls])


@router.post("/uploads/{upload_id}/complete", response_model=UploadRead, tags=["uploads"])
async def complete_upload(
    upload_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
) -> UploadRead | JSONResponse:
    """Assemble the parts and check the file type; then name upload_id when creating a resource."""
    upload, refusal = await uploads.complete_upload(session, store, settings, principal, upload_id)
    if refusal is not None:
        # Returned, not raised, so the ended session is committed with the error.
        return JSONResponse(
            error_body(refusal.code, refusal.message, refusal.details), status_code=refusal.status_code
        )
    return await _upload_read(session, store, upload)


@router.delete("/uploads/{upload_id}", status_code=204, tags=["uploads"])
async def abort_upload(
    upload_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, store: BlobStoreDep
) -> Response:
    await uploads.abort_upload(session, store, principal, upload_id)
    return Response(status_code=204)
