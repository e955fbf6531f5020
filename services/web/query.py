"""Blank fields of the pages' GET forms are no filter at all.

A GET form sends every field, the blank ones too (`/admin/stats?school_id=&since=`), and a blank
value is not a valid UUID, date or enum member: without this each such form would be a 422 unless
every field was filled in. For pages, blank pairs are dropped before parameters are validated. The
API under /api/ is left as it is: there a client sends what it means.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class DropBlankPageQueryValues:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if query and not scope["path"].startswith("/api/"):
            # Bytes, not decoded text: a pair is blank whatever encoding the rest of the query has.
            kept = [pair for pair in query.split(b"&") if pair.partition(b"=")[2]]
            scope = {**scope, "query_string": b"&".join(kept)}
        await self.app(scope, receive, send)
