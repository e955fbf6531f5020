"""HTTP for collections (专题资源包): the collection, its ordered items, its cover and its followers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Header as HeaderParam

from services.blob_http import blob_response
from services.collections import service
from services.collections.repository import CollectionFilters
from services.collections.schemas import (
    CollectionCreate,
    CollectionDetail,
    CollectionItemRead,
    CollectionRead,
    CollectionUpdate,
    ItemAdd,
    ItemMove,
    ItemOrder,
    Stage,
)
from services.deps import BlobStoreDep, SessionDep, SettingsDep
from services.errors import NotFound
from services.identity.deps import CurrentPrincipal, OptionalPrincipal
from services.resources import curriculum
from services.resources.filetypes import FileCategory
from services.resources.intake import stream_to_store
from services.schemas import Page
from services.streaming_form import InvalidForm, StreamingForm

router = APIRouter(prefix="/api/v1/collections", tags=["collections"])

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller may read the collection but not change it"},
    404: {"description": "No such collection (or item, resource, topic), or not one the caller may open"},
    409: {
        "description": "Already in the collection, an order that is not the collection's items, "
        "or nothing waiting for review"
    },
}
COVER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    413: {"description": "Over the image size limit"},
    415: {"description": "Not a JPEG, PNG, GIF or WebP picture (decided by its bytes)"},
}
COVER_PREFIX = "cover"
COVER_FILE = {"type": "string", "format": "binary"}
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("", response_model=Page[CollectionRead])
async def list_collections(
    session: SessionDep,
    principal: OptionalPrincipal,
    q: Annotated[str, Query(max_length=100, description="Words in the title or description")] = "",
    subject: Annotated[str, Query(max_length=32)] = "",
    stage: Stage | None = None,
    owner_id: uuid.UUID | None = None,
    school_id: uuid.UUID | None = None,
    mine: bool = False,
    followed: bool = False,
    pending_review: bool | None = None,
    offset: Offset = 0,
    limit: Limit = 20,
) -> Page[CollectionRead]:
    """Collections the caller may open, most recently changed first. `mine`: the caller's own;
    `followed`: those the caller follows."""
    filters = CollectionFilters(
        q=q.strip() or None,
        subject=curriculum.canonical_subject(subject.strip()) if subject.strip() else None,
        stage=stage,
        owner_id=principal.user_id if mine and principal else owner_id,
        school_id=school_id,
        followed_by=principal.user_id if followed and principal else None,
        pending_review=pending_review,
    )
    if (mine or followed) and principal is None:
        return Page(items=[], total=0, offset=offset, limit=limit)
    items, total = await service.listed(session, principal, filters, offset, limit)
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.post("", response_model=CollectionDetail, status_code=201, responses=ERRORS)
async def create_collection(
    data: CollectionCreate, session: SessionDep, principal: CurrentPrincipal
) -> CollectionDetail:
    """Teachers, research leads and administrators. district/public is requested for review (the
    collection starts private) unless a district admin makes it."""
    collection = await service.create(session, principal, data)
    return await service.detail(session, principal, collection)


@router.get("/{collection_id}", response_model=CollectionDetail, responses=ERRORS)
async def get_collection(
    collection_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal
) -> CollectionDetail:
    """The collection with the items the caller may open, in order."""
    collection = await service.readable(session, principal, collection_id)
    return await service.detail(session, principal, collection)


@router.patch("/{collection_id}", response_model=CollectionDetail, responses=ERRORS)
async def update_collection(
    collection_id: uuid.UUID, data: CollectionUpdate, session: SessionDep, principal: CurrentPrincipal
) -> CollectionDetail:
    """Its owner, or the administrators of its scope. Widening to district/public waits for review
    (`requested_visibility`), narrowing applies at once."""
    collection = await service.update(session, principal, collection_id, data)
    return await service.detail(session, principal, collection)


@router.delete("/{collection_id}", status_code=204, responses=ERRORS)
async def delete_collection(
    collection_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await service.delete(session, principal, collection_id)
    return Response(status_code=204)


@router.put(
    "/{collection_id}/cover",
    response_model=CollectionRead,
    responses=COVER_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def put_cover(
    collection_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    store: BlobStoreDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> CollectionRead:
    """A cover picture (multipart, field `file`): its type is decided by its bytes, images only."""
    collection = await service.editable(session, principal, collection_id)
    form = StreamingForm(request)
    file = await form.next_file()
    if file is None or file.field_name != "file" or not file.filename:
        raise InvalidForm("The form needs a picture in a field named 'file'")
    staged = await stream_to_store(
        store,
        settings,
        filename=file.filename,
        chunks=form.file_chunks(),
        allowed=frozenset({FileCategory.image}),
        what="A cover",
        key_prefix=COVER_PREFIX,
    )
    await service.replace_cover(session, collection, staged.key, staged.detected.media_type)
    return await service.present(session, principal, collection)


@router.get("/{collection_id}/cover", responses=ERRORS)
async def get_cover(
    collection_id: uuid.UUID,
    session: SessionDep,
    store: BlobStoreDep,
    principal: OptionalPrincipal,
    if_none_match: Annotated[str | None, HeaderParam()] = None,
) -> Response:
    collection = await service.readable(session, principal, collection_id)
    if collection.cover_key is None:
        raise NotFound("This collection has no cover")
    return await blob_response(
        store,
        collection.cover_key,
        range_header=None,
        if_none_match=if_none_match,
        content_type=collection.cover_content_type,
    )


@router.post("/{collection_id}/items", response_model=CollectionItemRead, status_code=201, responses=ERRORS)
async def add_item(
    collection_id: uuid.UUID, data: ItemAdd, session: SessionDep, principal: CurrentPrincipal
) -> CollectionItemRead:
    """A resource or research topic the editor may open, at the end or at `position`; followers who may
    open it are notified."""
    return await service.add_item(session, principal, collection_id, data)


@router.delete("/{collection_id}/items/{item_id}", status_code=204, responses=ERRORS)
async def remove_item(
    collection_id: uuid.UUID, item_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await service.remove_item(session, principal, collection_id, item_id)
    return Response(status_code=204)


@router.post("/{collection_id}/items/{item_id}/move", status_code=204, responses=ERRORS)
async def move_item(
    collection_id: uuid.UUID,
    item_id: uuid.UUID,
    data: ItemMove,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    """Move one item to `position` (0 = first) among all items."""
    await service.move_item(session, principal, collection_id, item_id, data.position)
    return Response(status_code=204)


@router.put("/{collection_id}/order", response_model=CollectionDetail, responses=ERRORS)
async def reorder(
    collection_id: uuid.UUID, data: ItemOrder, session: SessionDep, principal: CurrentPrincipal
) -> CollectionDetail:
    """Every item's id once, in the new order (as a drag and drop ends)."""
    await service.reorder(session, principal, collection_id, data.item_ids)
    collection = await service.readable(session, principal, collection_id)
    return await service.detail(session, principal, collection)


@router.put("/{collection_id}/follow", status_code=204, responses=ERRORS)
async def follow(collection_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Follow: hear of every item added that one may open."""
    await service.follow(session, principal, collection_id, True)
    return Response(status_code=204)


@router.delete("/{collection_id}/follow", status_code=204, responses=ERRORS)
async def unfollow(collection_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Response:
    await service.follow(session, principal, collection_id, False)
    return Response(status_code=204)
