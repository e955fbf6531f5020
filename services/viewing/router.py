"""HTTP for watch time: the player's reports, resuming, the teacher's statistics and student progress."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.deps import SessionDep, SettingsDep
from services.identity.deps import CurrentPrincipal, OptionalPrincipal
from services.viewing import service
from services.viewing.schemas import StudentProgressRead, WatchProgressRead, WatchReport, WatchStats

router = APIRouter(prefix="/api/v1/resources/{resource_id}", tags=["watch time"])

ShareToken = Annotated[str | None, Query(alias="share", max_length=200, description="A share-link token")]
GuestId = Annotated[str | None, Query(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Round = Annotated[int, Path(ge=1, le=100_000)]
REPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such video, or not readable"},
    422: {"description": "Ranges outside the recording, or no guest_id when not signed in"},
    429: {"description": "Too many reports for this viewer and recording"},
}
TEACHER_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the lesson's teacher (statistics) or not a teacher (student progress)"},
    404: {"description": "No such lesson or round, or no video in it"},
}


@router.post("/files/{file_id}/watch", response_model=WatchProgressRead, responses=REPORT_ERRORS)
async def report_watching(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    data: WatchReport,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    share: ShareToken = None,
) -> WatchProgressRead:
    """The ranges played since the last report (every ~15 s, on pause, when the page closes)."""
    return await service.report(session, settings, principal, resource_id, file_id, share, data)


@router.get("/files/{file_id}/watch", response_model=WatchProgressRead, responses=REPORT_ERRORS)
async def read_watching(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    share: ShareToken = None,
    guest_id: GuestId = None,
) -> WatchProgressRead:
    """Where this viewer stopped and how much they watched, to resume."""
    return await service.my_progress(session, settings, principal, resource_id, file_id, share, guest_id)


@router.get("/versions/{number}/watch-stats", response_model=WatchStats, responses=TEACHER_ERRORS)
async def read_watch_stats(
    resource_id: uuid.UUID, number: Round, principal: CurrentPrincipal, session: SessionDep
) -> WatchStats:
    """Viewers, total watch time, average completion and retention of one round (its teacher only)."""
    return await service.round_stats(session, principal, resource_id, number)


@router.get(
    "/versions/{number}/student-progress", response_model=StudentProgressRead, responses=TEACHER_ERRORS
)
async def read_student_progress(
    resource_id: uuid.UUID,
    number: Round,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> StudentProgressRead:
    """How far each student of the teacher's school got in a micro-lesson (微课)."""
    return await service.student_progress(session, settings, principal, resource_id, number)
