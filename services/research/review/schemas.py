"""What the lesson-review API accepts and returns: timed comments, the observation framework, rubrics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.resources.schemas import RoundNumber

Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Seconds = Annotated[float, Field(ge=0, le=24 * 3600, allow_inf_nan=False)]
Description = Annotated[str, Field(max_length=2000)]
CategoryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
RubricName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Score = Annotated[int, Field(ge=-1000, le=1000)]


# -- comments --------------------------------------------------------------------------------------


class CommentCreate(BaseModel):
    # The round (磨课: 第n次试课); the newest when omitted. A reply belongs to its comment's round.
    version: RoundNumber | None = None
    # Where in the recording: a moment, or a stretch up to end_s. Replies need no time.
    start_s: Seconds | None = None
    end_s: Seconds | None = None
    category_id: uuid.UUID | None = None
    body: Body
    parent_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _times(self) -> CommentCreate:
        if self.parent_id is None and self.start_s is None:
            raise ValueError("a comment needs start_s, the moment of the recording it is about")
        if self.end_s is not None and (self.start_s is None or self.end_s <= self.start_s):
            raise ValueError("end_s must come after start_s")
        return self


class CommentUpdate(BaseModel):
    body: Body | None = None
    start_s: Seconds | None = None
    # null removes the range: the comment is then about a moment.
    end_s: Seconds | None = None
    # null removes the category.
    category_id: uuid.UUID | None = None


class CommentRead(BaseModel):
    id: uuid.UUID
    resource_id: uuid.UUID
    version: int
    parent_id: uuid.UUID | None
    author_id: uuid.UUID
    author_name: str
    start_s: float | None
    end_s: float | None
    category_id: uuid.UUID | None
    category_name: str | None
    # Markdown as written, and rendered to safe HTML.
    body: str
    body_html: str
    resolved: bool
    resolved_at: datetime | None
    resolved_by_id: uuid.UUID | None
    edited_at: datetime | None
    # A deleted comment that has replies keeps its place in the thread, without its words.
    deleted: bool
    created_at: datetime
    replies: list[CommentRead] = Field(default_factory=list)


class Timeline(BaseModel):
    resource_id: uuid.UUID
    version: int
    label: str
    # Of the round's video, once processing has measured it.
    duration_s: float | None
    # This round's comments by start_s, replies under their comment.
    comments: list[CommentRead]
    # Open (unresolved) comments of earlier rounds, each with its round number: what round n left to fix.
    carried_over: list[CommentRead]


# -- observation framework -------------------------------------------------------------------------


class CategoryCreate(BaseModel):
    name: CategoryName
    description: Description = ""


class CategoryUpdate(BaseModel):
    name: CategoryName | None = None
    description: Description | None = None
    active: bool | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    position: int
    active: bool


# -- rubrics ---------------------------------------------------------------------------------------


class CriterionCreate(BaseModel):
    name: RubricName
    description: Description = ""
    min_score: Score = 0
    max_score: Score

    @model_validator(mode="after")
    def _range(self) -> CriterionCreate:
        if self.min_score >= self.max_score:
            raise ValueError("min_score must be below max_score")
        return self


class RubricCreate(BaseModel):
    name: RubricName
    description: Description = ""
    criteria: Annotated[list[CriterionCreate], Field(min_length=1, max_length=30)]

    @model_validator(mode="after")
    def _distinct_criteria(self) -> RubricCreate:
        names = [criterion.name for criterion in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criteria names must differ")
        return self


class RubricUpdate(BaseModel):
    # Criteria are fixed once created, so every score given stays comparable; make a new rubric instead.
    name: RubricName | None = None
    description: Description | None = None
    active: bool | None = None


class CriterionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    position: int
    name: str
    description: str
    min_score: int
    max_score: int


class RubricRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    active: bool
    created_at: datetime
    updated_at: datetime
    # The highest total a reviewer can give (the sum of the criteria's max_score).
    max_total: int
    criteria: list[CriterionRead]


class CriterionScore(BaseModel):
    criterion_id: uuid.UUID
    score: int


class ScoresSubmit(BaseModel):
    rubric_id: uuid.UUID
    # Every criterion of the rubric, once.
    scores: Annotated[list[CriterionScore], Field(min_length=1, max_length=30)]


class ScoresRead(BaseModel):
    resource_id: uuid.UUID
    version: int
    rubric_id: uuid.UUID
    reviewer_id: uuid.UUID
    scores: list[CriterionScore]
    total: int
    updated_at: datetime


class CriterionAverage(BaseModel):
    criterion_id: uuid.UUID
    name: str
    average: float | None
    # average minus that of the round compared to (compared_to); null on the first scored round.
    change: float | None


class RoundScores(BaseModel):
    version: int
    label: str
    reviewer_count: int
    # The average of the reviewers' totals (each reviewer scores every criterion).
    overall_average: float | None
    overall_change: float | None
    # The nearest earlier round that was scored with this rubric.
    compared_to: int | None
    criteria: list[CriterionAverage]


class RubricRounds(BaseModel):
    rubric_id: uuid.UUID
    rubric_name: str
    max_total: int
    criteria: list[CriterionRead]
    rounds: list[RoundScores]


class ResourceScores(BaseModel):
    resource_id: uuid.UUID
    rubrics: list[RubricRounds]
