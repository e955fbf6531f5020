"""Pydantic shapes of classes."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from services.resources.curriculum import SUBJECTS

Grade = Field(ge=1, le=12, description="年级: 1–6 小学, 7–9 初中, 10–12 高中")
ClassNumber = Field(ge=1, le=99, description="班号")
SchoolYear = Field(ge=2000, le=2100, description="The calendar year the school year starts in")


class ClassCreate(BaseModel):
    school_id: uuid.UUID | None = Field(None, description="Default: the caller's school")
    school_year: int | None = Field(None, ge=2000, le=2100, description="Default: the current school year")
    grade: int = Grade
    number: int = ClassNumber
    head_teacher_id: uuid.UUID | None = None


class ClassUpdate(BaseModel):
    head_teacher_id: uuid.UUID | None = None


class StudentsAdd(BaseModel):
    student_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)


class TeacherAdd(BaseModel):
    teacher_id: uuid.UUID
    subject: str = Field(min_length=1, max_length=32, description=f"One of {', '.join(SUBJECTS)}")


class Promotion(BaseModel):
    school_id: uuid.UUID | None = Field(None, description="Default: the caller's school")
    from_year: int = SchoolYear


class PersonRead(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str


class TeachingRead(BaseModel):
    teacher_id: uuid.UUID
    display_name: str
    subject: str


class ClassRead(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    school_year: int
    grade: int
    number: int
    name: str
    head_teacher: PersonRead | None
    teachers: list[TeachingRead]
    student_count: int


class ClassDetail(ClassRead):
    students: list[PersonRead]


class PromotionRead(BaseModel):
    promoted: list[ClassRead]
    graduated: int
