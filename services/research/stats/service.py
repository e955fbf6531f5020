"""Research statistics (研修统计): who opened topics, wrote posts, reviewed and scored lessons, and
how many rounds lessons went through, per school and per teacher.

Who sees which school is services.authz.stats_scope: school administrators their own school, research
leads and district administrators any school or the whole district, teachers and students none.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.errors import AppError, NotFound
from services.research.stats.repository import COUNTED, Counts, StatsRepository, Window
from services.research.stats.schemas import Activity, ResearchStats, SchoolActivity, TeacherActivity
from services.resources.service import RECORDING_TYPES


def _fields(counts: Counts) -> dict[str, int | float | None]:
    values: dict[str, int | float | None] = {name: getattr(counts, name) for name in COUNTED}
    values["rounds_per_lesson"] = round(counts.rounds / counts.lessons, 2) if counts.lessons else None
    return values


def _sum(counts: Iterable[Counts]) -> Counts:
    listed = list(counts)
    return Counts(*(sum(getattr(item, name) for item in listed) for name in COUNTED))


async def research_stats(
    session: AsyncSession,
    principal: Principal,
    *,
    school_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    offset: int,
    limit: int,
) -> ResearchStats:
    """`since` and `until` are aware UTC moments (stats.schemas.UTCMoment makes them so)."""
    scope = authz.stats_scope(principal, school_id)
    if since is not None and until is not None and since >= until:
        raise AppError("since must come before until", 422, code="invalid_payload")
    repository = StatsRepository(session)
    schools = await repository.schools(scope)
    if scope is not None and not schools:
        raise NotFound("School not found")

    window = Window(scope, since, until)
    # Lessons as review knows them: the recordings (课例 and 微课) that go through rounds of 磨课.
    page, teacher_total = await repository.people_page(window, RECORDING_TYPES, offset=offset, limit=limit)
    per_school = await repository.per_school(window, RECORDING_TYPES)
    # Every school in scope, in name order, active or not; then people of no school, if any.
    school_rows = [
        SchoolActivity(
            school_id=school.id,
            school_name=school.name,
            teachers=found.people if (found := per_school.get(school.id)) else 0,
            **_fields(found.counts if found else Counts()),
        )
        for school in schools
    ]
    if (nowhere := per_school.get(None)) is not None:
        school_rows.append(
            SchoolActivity(
                school_id=None, school_name=None, teachers=nowhere.people, **_fields(nowhere.counts)
            )
        )
    return ResearchStats(
        school_id=scope,
        since=since,
        until=until,
        totals=Activity(**_fields(_sum(row.counts for row in per_school.values()))),
        schools=school_rows,
        teachers=[
            TeacherActivity(
                user_id=person.user.id,
                username=person.user.username,
                display_name=person.user.display_name,
                role=person.user.role,
                school_id=person.user.school_id,
                **_fields(person.counts),
            )
            for person in page
        ],
        teacher_total=teacher_total,
        offset=offset,
        limit=limit,
    )
