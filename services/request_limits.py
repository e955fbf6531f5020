"""A ceiling on request bodies the API reads whole (JSON, forms), so no request can exhaust memory.

FastAPI reads a JSON or form body into memory before validating it, whatever its size. This ASGI
middleware refuses a body over MAX_BODY_BYTES with 413 in the one error shape: at once when the
declared Content-Length is over, else as soon as the bytes received are. Routes that stream a body
to object storage (multipart uploads, upload parts) lift the ceiling for their request with
`allow_streamed_body` before reading: they count and cap what they receive themselves.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest legitimate JSON body (a 50 000-character topic, \u-escaped) is well under this.
MAX_BODY_BYTES = 1024 * 1024
_STREAMED = "jiaoyun.streamed_body"


def allow_streamed_body(request: Request) -> None:
    """This request's body is streamed and capped by the route itself, not read whole."""
    request.scope[_STREAMED] = True


def _too_large(limit: int) -> HTTPException:
    # An HTTPException, not an AppError: FastAPI turns anything else raised while it reads the body
    # into a generic 400.
    return HTTPException(
        413, f"Request bodies are limited to {limit // 1024} KiB; send files as multipart/form-data"
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            declared = int(Headers(scope=scope).get("content-length", ""))
        except ValueError:
            declared = None
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if scope.get(_STREAMED):
                return await receive()
            if declared is not None and declared > self.max_bytes:
                raise _too_large(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _too_large(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
