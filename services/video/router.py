"""HTTP for a recording's renditions: status, HLS playlists and segments, the storyboard.

Everything goes through the same permission check as the file's own content (share links
included). Playlists are rewritten per request: a share token follows every URI in them, and in
S3 mode the segments' URIs are presigned object-storage URLs, so the bytes never pass through
the API. Segments never change under their key (a new content gets a new prefix): immutable.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from services.blob_http import blob_response
from services.deps import BlobStoreDep, SessionDep, SettingsDep
from services.errors import NotFound, ServiceUnavailable
from services.identity.deps import OptionalPrincipal
from services.lazy_imports import lazy_module
from services.resources import service as resources
from services.video import service
from services.video.schemas import RenditionRead, RenditionsRead, StoryboardRead

if TYPE_CHECKING:
    from services.video import transcode as transcoding
else:
    # PyAV and Pillow: loaded by the process that transcodes, not by the API.
    transcoding = lazy_module("services.video.transcode")
from storage.blobs.base import BlobNotFound, BlobStoreUnavailable
from storage.models.video import RenditionStatus, VideoRenditions

router = APIRouter(prefix="/api/v1/resources/{resource_id}/files/{file_id}", tags=["video"])

ShareToken = Annotated[str | None, Query(alias="share", max_length=200, description="A share-link token")]
RenditionName = Annotated[str, Path(pattern=r"^\d{2,4}p$")]
SegmentName = Annotated[str, Path(pattern=r"^seg\d{5}\.ts$")]
SheetName = Annotated[str, Path(pattern=r"^sheet\d{4}\.jpg$")]
IMMUTABLE = "private, max-age=31536000, immutable"
# Rewritten per request (share token, presigned URLs): never reused from a cache.
REWRITTEN = "private, no-store"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
NOT_READY: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such file, no renditions (yet), or not readable"}
}
_URI_LINE = re.compile(r"^(?!#)(\S+)$", re.MULTILINE)


def _base(resource_id: uuid.UUID, file_id: uuid.UUID) -> str:
    return f"/api/v1/resources/{resource_id}/files/{file_id}"


def _with_share(uri: str, share: str | None) -> str:
    return f"{uri}?share={share}" if share else uri


async def _renditions(
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    share: str | None,
    *,
    ready: bool = True,
) -> VideoRenditions:
    file = await resources.readable_file(session, settings, principal, resource_id, file_id, share)
    renditions = await service.renditions_of(session, file.id)
    if renditions is None or renditions.source_blob_key != file.blob_key:
        raise NotFound("This file has no renditions")
    if ready and renditions.status != RenditionStatus.ready:
        raise NotFound("The renditions are not ready yet")
    return renditions


def _stored(renditions: VideoRenditions, name: str) -> str:
    if name not in renditions.files:
        raise NotFound("No such part of the renditions")
    return f"{renditions.blob_prefix}/{name}"


async def _immutable_part(
    store: BlobStoreDep,
    renditions: VideoRenditions,
    name: str,
    *,
    content_type: str,
    range_header: str | None = None,
    if_none_match: str | None = None,
) -> Response:
    """A stored part of the renditions (segment, storyboard sheet) with caching for good: its key
    never gets other bytes, a new content gets a new prefix."""
    response = await blob_response(
        store,
        _stored(renditions, name),
        range_header=range_header,
        if_none_match=if_none_match,
        content_type=content_type,
    )
    response.headers["Cache-Control"] = IMMUTABLE
    return response


async def _text(store: BlobStoreDep, key: str) -> str:
    try:
        chunks = [chunk async for chunk in store.get(key)]
    except BlobNotFound as exc:
        raise NotFound("This part of the renditions is missing from object storage") from exc
    except BlobStoreUnavailable as exc:
        raise ServiceUnavailable("Object storage is unavailable, try again shortly") from exc
    return b"".join(chunks).decode("utf-8")


@router.get("/video", response_model=RenditionsRead, responses=NOT_READY)
async def read_renditions(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    share: ShareToken = None,
) -> RenditionsRead:
    """Whether the streaming renditions are ready (progress while they are made) and where."""
    renditions = await _renditions(session, settings, principal, resource_id, file_id, share, ready=False)
    ready = renditions.status == RenditionStatus.ready
    base = _base(resource_id, file_id)
    board = renditions.storyboard if ready else None
    return RenditionsRead(
        status=renditions.status,
        progress=renditions.progress,
        error=renditions.error,
        duration_s=renditions.duration_s,
        renditions=[
            RenditionRead(
                name=item["name"],
                width=item["width"],
                height=item["height"],
                bandwidth=transcoding.Rendition(**item).bandwidth,
            )
            for item in (renditions.renditions if ready else [])
        ],
        master_url=_with_share(f"{base}/hls/{transcoding.MASTER_PLAYLIST}", share) if ready else None,
        storyboard=StoryboardRead(
            url=_with_share(f"{base}/storyboard.vtt", share),
            interval_s=board["interval_s"],
            tile_width=board["tile_width"],
            tile_height=board["tile_height"],
            count=board["count"],
        )
        if board
        else None,
    )


@router.get("/hls/master.m3u8", response_class=Response, responses=NOT_READY)
async def read_master_playlist(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    share: ShareToken = None,
) -> Response:
    renditions = await _renditions(session, settings, principal, resource_id, file_id, share)
    text = await _text(store, _stored(renditions, transcoding.MASTER_PLAYLIST))
    text = _URI_LINE.sub(lambda match: _with_share(match.group(1), share), text)
    return Response(text, media_type=PLAYLIST_TYPE, headers={"Cache-Control": REWRITTEN})


@router.get("/hls/{rendition}/index.m3u8", response_class=Response, responses=NOT_READY)
async def read_media_playlist(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    rendition: RenditionName,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    share: ShareToken = None,
) -> Response:
    """The segments' list; in S3 mode their URIs are presigned object-storage URLs."""
    renditions = await _renditions(session, settings, principal, resource_id, file_id, share)
    text = await _text(store, _stored(renditions, f"{rendition}/{transcoding.MEDIA_PLAYLIST}"))
    names = _URI_LINE.findall(text)
    if store.name == "s3" and settings.content_redirects:
        expires = service.segment_url_ttl(settings)
        urls = {
            name: await store.presigned_get_url(
                _stored(renditions, f"{rendition}/{name}"), expires=expires, content_type="video/mp2t"
            )
            for name in names
        }
    else:
        urls = {name: _with_share(name, share) for name in names}
    text = _URI_LINE.sub(lambda match: urls.get(match.group(1), match.group(1)), text)
    return Response(text, media_type=PLAYLIST_TYPE, headers={"Cache-Control": REWRITTEN})


@router.get("/hls/{rendition}/{segment}", response_class=Response, responses=NOT_READY)
async def read_segment(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    rendition: RenditionName,
    segment: SegmentName,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    share: ShareToken = None,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    renditions = await _renditions(session, settings, principal, resource_id, file_id, share)
    return await _immutable_part(
        store,
        renditions,
        f"{rendition}/{segment}",
        content_type="video/mp2t",
        range_header=range_header,
        if_none_match=if_none_match,
    )


@router.get("/storyboard.vtt", response_class=Response, responses=NOT_READY)
async def read_storyboard_track(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    share: ShareToken = None,
) -> Response:
    """The WebVTT thumbnail track: each cue names a tile (`storyboard/sheetNNNN.jpg#xywh=…`)."""
    renditions = await _renditions(session, settings, principal, resource_id, file_id, share)
    text = await _text(store, _stored(renditions, f"storyboard/{transcoding.STORYBOARD_TRACK}"))
    if share:
        text = re.sub(
            r"^(sheet\d{4}\.jpg)#", lambda m: f"{m.group(1)}?share={share}#", text, flags=re.MULTILINE
        )
    text = re.sub(r"^(sheet\d{4}\.jpg)", r"storyboard/\1", text, flags=re.MULTILINE)
    return Response(text, media_type="text/vtt; charset=utf-8", headers={"Cache-Control": REWRITTEN})


@router.get("/storyboard/{sheet}", response_class=Response, responses=NOT_READY)
async def read_storyboard_sheet(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    sheet: SheetName,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    share: ShareToken = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    renditions = await _renditions(session, settings, principal, resource_id, file_id, share)
    return await _immutable_part(
        store, renditions, f"storyboard/{sheet}", content_type="image/jpeg", if_none_match=if_none_match
    )
