"""GET /metrics: the Prometheus exposition, for the monitoring system only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from services.deps import SessionDep, SettingsDep
from services.errors import NotFound
from services.observability import metrics, service

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text exposition"},
        403: {"description": "Not from an allowed network and no metrics token"},
        404: {"description": "Metrics are turned off"},
    },
)
async def read_metrics(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Request, search, upload, job, outbox, error and sign-in figures (JIAOYUN_METRICS_*)."""
    if not settings.metrics_enabled:
        raise NotFound("Not found")
    service.require_scraper(settings, request.client.host if request.client else None, authorization)
    figures = await service.queue_figures(session)
    body = metrics.exposition(metrics.queue_families(figures))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
