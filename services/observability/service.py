"""Use cases of the operations endpoints: who may scrape, and the figures read at scrape time."""

from __future__ import annotations

import ipaddress
import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import Forbidden
from services.observability.metrics import QueueFigures
from services.observability.repository import QueueRepository
from services.settings import Settings
from storage.database import utcnow


def may_scrape(settings: Settings, client_address: str | None, authorization: str | None) -> bool:
    """A client on an allowed network, or one presenting the metrics token."""
    token = settings.metrics_token.get_secret_value()
    if token and authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode()):
            return True
    if client_address is None:
        return False
    try:
        address = ipaddress.ip_address(client_address)
    except ValueError:
        return False
    for network in settings.metrics_allow_from.split(","):
        if network.strip() and address in ipaddress.ip_network(network.strip(), strict=False):
            return True
    return False


def require_scraper(settings: Settings, client_address: str | None, authorization: str | None) -> None:
    if not may_scrape(settings, client_address, authorization):
        raise Forbidden(
            "Metrics are for the monitoring system: send the metrics token or scrape from an allowed network"
        )


def _age_s(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


async def queue_figures(session: AsyncSession) -> QueueFigures:
    repository = QueueRepository(session)
    now = utcnow()
    jobs = await repository.queued_jobs_by_kind()
    backlog, oldest = await repository.outbox()
    return QueueFigures(
        jobs={kind: (count, _age_s(since, now)) for kind, (count, since) in jobs.items()},
        jobs_by_status=await repository.jobs_by_status(),
        outbox_backlog=backlog,
        outbox_oldest_age_s=_age_s(oldest, now),
    )
