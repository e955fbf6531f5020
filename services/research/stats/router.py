"""HTTP for research statistics (研修统计)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.deps import SessionDep
from services.identity.deps import CurrentPrincipal
from services.research.stats import service
from services.research.stats.schemas import ResearchStats, UTCMoment

router = APIRouter(prefix="/api/v1")


@router.get("/research/stats", response_model=ResearchStats, tags=["research statistics"])
async def research_stats(
    principal: CurrentPrincipal,
    session: SessionDep,
    school_id: uuid.UUID | None = None,
    since: Annotated[
        UTCMoment | None, Query(description="From (inclusive); a date or time, UTC if no zone")
    ] = None,
    until: Annotated[
        UTCMoment | None, Query(description="Until (exclusive); a date or time, UTC if no zone")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ResearchStats:
    """Topics opened, posts written, review comments given, rounds scored and lessons' rounds, per
    school and per teacher (most active first). School administrators: their school; research leads
    and district administrators: any school, or the whole district without school_id."""
    return await service.research_stats(
        session, principal, school_id=school_id, since=since, until=until, offset=offset, limit=limit
    )
