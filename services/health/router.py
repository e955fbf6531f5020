from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from services.deps import ContextDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 5.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is unreachable"}})
async def readyz(context: ContextDep) -> JSONResponse:
    """Database, blob store and search index are all reachable."""

    async def database() -> None:
        async with context.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks = {
        "database": database,
        "blob_store": context.blob_store.ping,
        "search_index": context.search_index.ping,
    }
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
            results[name] = "ok"
        except Exception as exc:
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = f"unavailable: {type(exc).__name__}"
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
