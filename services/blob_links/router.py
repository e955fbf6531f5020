"""Endpoints behind the local blob store's signed links (S3 serves its presigned URLs itself)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from services.blob_http import blob_response
from services.deps import BlobStoreDep
from services.errors import AppError, NotFound
from services.request_limits import allow_streamed_body
from storage.blobs.base import MAX_PART_SIZE, InvalidBlobRequest
from storage.blobs.local import LocalBlobStore
from storage.blobs.signing import LinkClaims

router = APIRouter(prefix="/api/v1/blobs/signed", tags=["blobs"], include_in_schema=False)


def _claims(store: object, token: str) -> tuple[LocalBlobStore, LinkClaims]:
    if not isinstance(store, LocalBlobStore):
        raise NotFound("Not found")
    try:
        return store, store.signer.verify(token)
    except InvalidBlobRequest as exc:
        raise AppError(str(exc), 403, code="forbidden") from exc


@router.get("/{token}")
async def get_signed(
    token: str,
    store: BlobStoreDep,
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    local, claims = _claims(store, token)
    if claims.method != "GET":
        raise AppError("Link does not allow reading", 403, code="forbidden")
    return await blob_response(
        local, claims.key, range_header=range_header, filename=claims.download_name, inline=False
    )


@router.put("/{token}")
async def put_signed(token: str, request: Request, store: BlobStoreDep) -> Response:
    local, claims = _claims(store, token)
    # A signed link's body streams to disk (parts capped below), not held to the JSON ceiling.
    allow_streamed_body(request)
    if claims.method == "PUT":
        content_type = request.headers.get("content-type", "application/octet-stream")
        stored = await local.put(claims.key, request.stream(), content_type=content_type)
        return Response(status_code=200, headers={"ETag": f'"{stored.etag}"'})
    if claims.method == "PART" and claims.upload_id and claims.part_number:
        # As S3 wants for a presigned part: its length up front. The part streams to disk.
        declared = request.headers.get("content-length", "")
        if not declared.isdigit():
            raise AppError("Send the part with its Content-Length", 411, code="length_required")
        if int(declared) > MAX_PART_SIZE:
            raise AppError("Part too large", 413, code="payload_too_large")
        try:
            part = await local.upload_part(
                claims.key, claims.upload_id, claims.part_number, request.stream(), size=int(declared)
            )
        except InvalidBlobRequest as exc:
            raise NotFound("Upload not found, or the part is not as long as declared") from exc
        return Response(status_code=200, headers={"ETag": f'"{part.etag}"'})
    raise AppError("Link does not allow writing", 403, code="forbidden")
