"""What the research-statistics API returns (研修统计)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from storage.models.identity import Role


class Activity(BaseModel):
    """What a teacher, a school or the district did in the period."""

    topics_opened: int = 0
    posts_written: int = 0
    # Comments and replies written on colleagues' lesson recordings (not on one's own).
    review_comments: int = 0
    # Rounds of colleagues' lessons scored with a rubric.
    rounds_scored: int = 0
    # Lesson records (课例) started in the period, the rounds they went through, and how many went
    # through more than one (磨课).
    lessons: int = 0
    lessons_with_rounds: int = 0
    rounds: int = 0
    rounds_per_lesson: float | None = None


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
