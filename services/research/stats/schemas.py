"""What the research-statistics API returns (研修统计)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel

from storage.models.identity import Role


def as_utc(moment: datetime) -> datetime:
    """A date or time without a zone is read as UTC; one with a zone is converted to UTC here, so that a
    moment whose UTC time falls outside the years 1 to 9999 (0001-01-01T00:00+01:00) is an invalid
    query rather than an overflow when it is bound to the database."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("must fall within the years 1 to 9999 once converted to UTC") from exc


UTCMoment = Annotated[datetime, AfterValidator(as_utc)]


class Activity(BaseModel):
    """What a teacher, a school or the district did in the period."""

    topics_opened: int = 0
    posts_written: int = 0
    # Comments and replies written on colleagues' lesson recordings (not on one's own).
    review_comments: int = 0
    # Rounds of colleagues' lessons scored with a rubric, each in the period it was first scored.
    rounds_scored: int = 0
    # Recorded lessons (课例 and 微课) started in the period, the rounds they went through, and how many
    # went through more than one (磨课).
    lessons: int = 0
    lessons_with_rounds: int = 0
    rounds: int = 0
    rounds_per_lesson: float | None = None
    # 观课时长: minutes of colleagues' lesson recordings watched (the union of what was played, so
    # replaying adds nothing), each day counted in the period it falls in.
    watch_minutes: int = 0


class SchoolActivity(Activity):
    # null: people of the district who belong to no school (research leads, district admins).
    school_id: uuid.UUID | None
    school_name: str | None
    teachers: int


class TeacherActivity(Activity):
    user_id: uuid.UUID
    username: str
    display_name: str
    role: Role
    school_id: uuid.UUID | None


class ResearchStats(BaseModel):
    school_id: uuid.UUID | None
    since: datetime | None
    until: datetime | None
    totals: Activity
    schools: list[SchoolActivity]
    # Most active first.
    teachers: list[TeacherActivity]
    teacher_total: int
    offset: int
    limit: int
