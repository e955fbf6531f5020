"""Pydantic shapes of the textbook tree."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class Count(BaseModel):
    value: str
    label: str
    count: int


class Book(BaseModel):
    """册次: a grade's volume, e.g. 二年级下册."""

    grade: int
    volume: str
    label: str
    count: int


class LessonResource(BaseModel):
    id: uuid.UUID
    title: str
    resource_type: str


class Lesson(BaseModel):
    name: str
    count: int
    resources: list[LessonResource]


class Unit(BaseModel):
    name: str
    count: int
    lessons: list[Lesson]


class TreePath(BaseModel):
    stage: str | None = None
    subject: str | None = None
    edition: str | None = None
    grade: int | None = None
    volume: str | None = None


class Tree(BaseModel):
    """One step of the walk: the level below the path given, counted over what the caller may open."""

    path: TreePath
    stages: list[Count]
    subjects: list[Count]
    editions: list[Count]
    books: list[Book]
    units: list[Unit]
    # Where the caller's walk opens: a student's own grade, the editions their school uses.
    home: TreePath
    school_editions: dict[str, str]


class SchoolEditions(BaseModel):
    """The edition a school uses per subject, e.g. {"语文": "人教版", "英语": "外研版"}."""

    editions: dict[str, str] = Field(max_length=30)


class CatalogImport(BaseModel):
    books: int
    lessons: int
