"""One ASGI middleware per request: its id, its access line and its metrics.

The request id comes from X-Request-ID when the caller (a proxy) sends a sane one, else it is made
here; it is returned in the response and carried by every log line of the request. The access line
and the metrics name the route template (/api/v1/resources/{resource_id}), never the path with its
ids, and never the query string, which may hold share tokens or a sign-in code.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.observability import metrics
from services.observability.logs import log_context

access_logger = logging.getLogger("jiaoyun.access")

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if template:
        return str(template)
    path = str(scope.get("path", ""))
    if path.startswith("/static/"):
        return "/static"
    return "unmatched"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            given: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(given):
                return given
            break
    return uuid.uuid4().hex


class RequestObservationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        # Where the auth dependencies leave the user's id for the access line (request.state).
        scope.setdefault("state", {})
        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        method = str(scope.get("method", ""))
        metrics.http_requests.labels(method, route, str(status)).inc()
        metrics.http_request_seconds.labels(method, route, str(status)).observe(seconds)
        state: dict[str, Any] = scope.get("state") or {}
        user_id = state.get("user_id")
        client = scope.get("client")
        access_logger.info(
            "%s %s %s %.1fms",
            method,
            scope.get("path", ""),
            status,
            seconds * 1000,
            extra={
                "method": method,
                "path": scope.get("path", ""),
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "user_id": str(user_id) if user_id else None,
                "client": client[0] if client else None,
            },
        )
