"""Serving blobs over HTTP: Range (206) for video seeking, ETag, UTF-8 download names."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from services.errors import AppError, NotFound, ServiceUnavailable
from storage.blobs.base import BlobNotFound, BlobStat, BlobStore, BlobStoreUnavailable

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(AppError):
    status_code = 416
    code = "range_not_satisfiable"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Inclusive (first, last) for a single-range header, None for the whole body."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    # Multi-range and other units are answered with the whole body, which RFC 9110 allows.
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:
        suffix = int(last_text)
        if suffix == 0:
            raise RangeNotSatisfiable("Empty suffix range", headers={"Content-Range": f"bytes */{size}"})
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable("Range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return first, min(last, size - 1)


def content_disposition(filename: str, *, inline: bool) -> str:
    kind = "inline" if inline else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "").replace("\\", "")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# Stored files are never pages of ours: nothing in them loads anything, and a file opened in the
# browser gets an opaque origin of its own (sandbox), so even markup that slipped through runs no script
# with our cookies.
SANDBOXED_CONTENT_POLICY = "default-src 'none'; sandbox"
# Chrome's PDF viewer does not start in a sandboxed document, so a PDF shown inline only gets the
# loading restrictions; its own scripts run inside the viewer, never in our origin.
INLINE_PDF_POLICY = "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'"


def content_security_policy(media_type: str, *, inline: bool) -> str:
    if inline and media_type.split(";", 1)[0].strip().lower() == "application/pdf":
        return INLINE_PDF_POLICY
    return SANDBOXED_CONTENT_POLICY


async def stat_or_error(store: BlobStore, key: str) -> BlobStat:
    try:
        return await store.stat(key)
    except BlobNotFound as exc:
        raise NotFound("File content not found") from exc
    except BlobStoreUnavailable as exc:
        raise ServiceUnavailable("Object storage is unavailable, try again shortly") from exc


async def blob_response(
    store: BlobStore,
    key: str,
    *,
    range_header: str | None,
    if_none_match: str | None = None,
    content_type: str | None = None,
    filename: str | None = None,
    inline: bool = True,
    stat: BlobStat | None = None,
) -> Response:
    blob = stat or await stat_or_error(store, key)
    etag = f'"{blob.etag.strip(chr(34))}"'
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private, max-age=0, must-revalidate"}
    if filename:
        headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    media_type = content_type or blob.content_type or "application/octet-stream"
    headers["Content-Security-Policy"] = content_security_policy(media_type, inline=inline)
    if if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    byte_range = parse_range(range_header, blob.size)
    if byte_range is None:
        first, last, status = 0, blob.size - 1, 200
    else:
        (first, last), status = byte_range, 206
        headers["Content-Range"] = f"bytes {first}-{last}/{blob.size}"
    headers["Content-Length"] = str(max(0, last - first + 1))
    if blob.size == 0:
        return Response(b"", status_code=200, headers=headers, media_type=media_type)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in store.get(key, start=first, end=last):
            yield chunk

    return StreamingResponse(body(), status_code=status, headers=headers, media_type=media_type)
