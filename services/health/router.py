from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.deps import ContextDep
from services.health.repository import ping_database

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

# Each check's limit; they run at the same time, so /readyz answers within about this long.
CHECK_TIMEOUT_S = 5.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is unreachable"}})
async def readyz(context: ContextDep) -> JSONResponse:
    """Database, blob store and search index are all reachable."""

    async def check(name: str, ping: Callable[[], Awaitable[None]]) -> str:
        try:
            await asyncio.wait_for(ping(), CHECK_TIMEOUT_S)
        except Exception as exc:
            logger.warning("readiness check %s failed: %s", name, exc)
            return f"unavailable: {type(exc).__name__}"
        return "ok"

    checks: dict[str, Callable[[], Awaitable[None]]] = {
        "database": lambda: ping_database(context.engine),
        "blob_store": context.blob_store.ping,
        "search_index": context.search_index.ping,
    }
    outcomes = await asyncio.gather(*(check(name, ping) for name, ping in checks.items()))
    results = dict(zip(checks, outcomes, strict=True))
    failed = [name for name, result in results.items() if result != "ok"]
    if failed:
        return JSONResponse(
            {
                "status": "unavailable",
                "checks": results,
                "error": {
                    "code": "service_unavailable",
                    "message": f"Not ready: {', '.join(failed)} unreachable",
                    "details": [{"dependency": name} for name in failed],
                },
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "checks": results})
