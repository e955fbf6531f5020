"""Research statistics (研修统计): who opened topics, wrote posts, reviewed and scored lessons, and
how many rounds lessons went through, per school and per teacher.

Who sees which school is services.authz.stats_scope: school administrators their own school, research
leads and district administrators any school or the whole district, teachers and students none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.errors import AppError, NotFound
from services.research.stats.repository import LessonCounts, StatsRepository, Window
from services.research.stats.schemas import Activity, ResearchStats, SchoolActivity, TeacherActivity
from services.resources.service import RECORDING_TYPES

_COUNTED = ("topics_opened", "posts_written", "review_comments", "rounds_scored", "lessons")


@dataclass
class _Tally:
    topics_opened: int = 0
    posts_written: int = 0
    review_comments: int = 0
    rounds_scored: int = 0
    lessons: int = 0
    lessons_with_rounds: int = 0
    rounds: int = 0

    def add(self, other: _Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def busy(self) -> int:
        return sum(getattr(self, name) for name in _COUNTED)

    def fields(self) -> dict[str, int | float | None]:
        values: dict[str, int | float | None] = {
            name: getattr(self, name) for name in self.__dataclass_fields__
        }
        values["rounds_per_lesson"] = round(self.rounds / self.lessons, 2) if self.lessons else None
        return values


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
    tallies: dict[uuid.UUID, _Tally] = {}

    def tally(user_id: uuid.UUID) -> _Tally:
        return tallies.setdefault(user_id, _Tally())

    for name, counts in (
        ("topics_opened", await repository.topics_opened(window)),
        ("posts_written", await repository.posts_written(window)),
        ("review_comments", await repository.review_comments(window)),
        ("rounds_scored", await repository.rounds_scored(window)),
    ):
        for user_id, count in counts.items():
            setattr(tally(user_id), name, count)
    # Lessons as review knows them: the recordings (课例 and 微课) that go through rounds of 磨课.
    lessons: dict[uuid.UUID, LessonCounts] = await repository.lessons(window, RECORDING_TYPES)
    for user_id, lesson_counts in lessons.items():
        counted = tally(user_id)
        counted.lessons = lesson_counts.lessons
        counted.rounds = lesson_counts.rounds
        counted.lessons_with_rounds = lesson_counts.lessons_with_rounds

    people = [
        person
        for person in await repository.people(scope)
        if person.is_active or tallies.get(person.id, _Tally()).busy
    ]
    by_school: dict[uuid.UUID | None, tuple[_Tally, list[uuid.UUID]]] = {
        school.id: (_Tally(), []) for school in schools
    }
    teachers: list[TeacherActivity] = []
    for person in people:
        counted = tallies.get(person.id, _Tally())
        if person.school_id is None:
            by_school.setdefault(None, (_Tally(), []))
        elif person.school_id not in by_school:
            continue
        school_tally, members = by_school[person.school_id]
        school_tally.add(counted)
        members.append(person.id)
        teachers.append(
            TeacherActivity(
                user_id=person.id,
                username=person.username,
                display_name=person.display_name,
                role=person.role,
                school_id=person.school_id,
                **counted.fields(),
            )
        )
    names = {school.id: school.name for school in schools}
    totals = _Tally()
    school_rows = []
    for school_key, (school_tally, members) in by_school.items():
        totals.add(school_tally)
        school_rows.append(
            SchoolActivity(
                school_id=school_key,
                school_name=names.get(school_key) if school_key else None,
                teachers=len(members),
                **school_tally.fields(),
            )
        )
    busiest = sorted(
        teachers,
        key=lambda row: (-tallies.get(row.user_id, _Tally()).busy, row.display_name, str(row.user_id)),
    )
    return ResearchStats(
        school_id=scope,
        since=since,
        until=until,
        totals=Activity(**totals.fields()),
        schools=school_rows,
        teachers=busiest[offset : offset + limit],
        teacher_total=len(teachers),
        offset=offset,
        limit=limit,
    )
