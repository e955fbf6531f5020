"""The pages' static files, compressed and cached for good.

A school on a 2 Mbit/s link pays for every byte before the lesson video starts: the player's
hls.js alone is ~390 KB, ~120 KB gzipped. Text files (scripts, style sheets) go out gzipped to
browsers that accept it, compressed once per process and file version (in a thread, never on the
event loop). URLs made by `static_url` carry the file's content hash (`?v=`), so those responses
are cached for a year, immutable; a URL without it is revalidated (ETag) every time.
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

from anyio import to_thread
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

FINGERPRINTED = "public, max-age=31536000, immutable"
REVALIDATED = "no-cache"
COMPRESSIBLE = {".js", ".mjs", ".css", ".svg", ".json", ".txt", ".vtt", ".map"}
# Below this, gzip saves less than the header costs.
MIN_COMPRESSED_SIZE = 1024


@functools.lru_cache(maxsize=64)
def _gzipped(path: str, modified_ns: int, size: int) -> bytes:
    # Keyed by the file's version: a file changed under a running process is compressed again.
    del modified_ns, size
    return gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0)


def _accepts_gzip(headers: Headers) -> bool:
    for coding in headers.get("accept-encoding", "").split(","):
        name, _, parameters = coding.strip().partition(";")
        if name.strip().lower() in ("gzip", "*") and parameters.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


class CompressedStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        fingerprinted = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = FINGERPRINTED if fingerprinted else REVALIDATED
        if not isinstance(response, FileResponse) or response.status_code != 200:
            return response
        headers = Headers(scope=scope)
        stat = response.stat_result
        suffix = os.path.splitext(str(response.path))[1].lower()
        if (
            stat is None
            or suffix not in COMPRESSIBLE
            or stat.st_size < MIN_COMPRESSED_SIZE
            or "range" in headers
        ):
            return response
        response.headers["Vary"] = "Accept-Encoding"
        if not _accepts_gzip(headers):
            return response
        # Another representation, another tag (a cache must not answer gzip to whom asked identity).
        etag = f'"{response.headers.get("etag", "").strip(chr(34))}-gz"'
        kept = {
            name: response.headers[name]
            for name in ("cache-control", "last-modified", "vary")
            if name in response.headers
        }
        if etag in {tag.strip() for tag in headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers={**kept, "ETag": etag})
        body = await to_thread.run_sync(_gzipped, str(response.path), stat.st_mtime_ns, stat.st_size)
        return Response(
            body,
            status_code=200,
            media_type=response.media_type,
            headers={**kept, "ETag": etag, "Content-Encoding": "gzip"},
        )
