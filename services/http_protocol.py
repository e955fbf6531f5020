"""uvicorn's httptools protocol with a ceiling on what it buffers before the app sees a request.

httptools collects a request's URL and headers without any limit, so one connection could make the
server hold megabytes of headers in memory. Past MAX_REQUEST_HEAD_BYTES the request is refused: an
exception raised in a parser callback makes uvicorn answer 400 and close the connection, as it does for
any malformed request (h11 and reverse proxies refuse such heads too).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Request line plus headers; browsers send a few KiB, long share-link URLs included.
MAX_REQUEST_HEAD_BYTES = 64 * 1024


class RequestHeadTooLarge(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
            raise RequestHeadTooLarge(f"request line and headers over {MAX_REQUEST_HEAD_BYTES} bytes")
