"""HTTP for classes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.classes import service
from services.classes.repository import ClassRepository
from services.classes.schemas import (
    ClassCreate,
    ClassDetail,
    ClassRead,
    ClassUpdate,
    PersonRead,
    Promotion,
    PromotionRead,
    StudentsAdd,
    TeacherAdd,
    TeachingRead,
)
from services.deps import SessionDep
from services.identity.deps import CurrentPrincipal
from storage.models.classes import SchoolClass

router = APIRouter(prefix="/api/v1", tags=["classes"])

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not allowed (classes are managed by school administrators)"},
    404: {"description": "No such class, or not one the caller may see"},
    409: {"description": "Already exists, or still in use"},
}


def _person(user: Any) -> PersonRead:
    return PersonRead(id=user.id, username=user.username, display_name=user.display_name)


async def class_reads(session: AsyncSession, classes: list[SchoolClass]) -> list[ClassRead]:
    repository = ClassRepository(session)
    ids = [item.id for item in classes]
    counts = await repository.student_counts(ids)
    teachings = await repository.teachings(ids)
    heads = await repository.users([item.head_teacher_id for item in classes if item.head_teacher_id])
    result = []
    for item in classes:
        head = heads.get(item.head_teacher_id) if item.head_teacher_id else None
        result.append(
            ClassRead(
                id=item.id,
                school_id=item.school_id,
                school_year=item.school_year,
                grade=item.grade,
                number=item.number,
                name=service.class_name(item.grade, item.number),
                head_teacher=_person(head) if head else None,
                teachers=[
                    TeachingRead(teacher_id=user.id, display_name=user.display_name, subject=subject)
                    for class_id, user, subject in teachings
                    if class_id == item.id
                ],
                student_count=counts.get(item.id, 0),
            )
        )
    return result


async def class_detail(session: AsyncSession, school_class: SchoolClass) -> ClassDetail:
    (read,) = await class_reads(session, [school_class])
    students = await ClassRepository(session).students(school_class.id)
    return ClassDetail(**read.model_dump(), students=[_person(student) for student in students])


@router.post("/classes", status_code=201, response_model=ClassDetail, responses=ERRORS)
async def create_class(data: ClassCreate, session: SessionDep, principal: CurrentPrincipal) -> ClassDetail:
    school_class = await service.create_class(session, principal, data)
    return await class_detail(session, school_class)


@router.get("/classes", response_model=list[ClassRead], responses=ERRORS)
async def list_classes(
    session: SessionDep,
    principal: CurrentPrincipal,
    school_id: uuid.UUID | None = None,
    school_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> list[ClassRead]:
    """Admins: their school's classes; teachers: those they teach; students: their own."""
    return await class_reads(session, await service.list_classes(session, principal, school_id, school_year))


@router.post("/classes/promote", response_model=PromotionRead, responses=ERRORS)
async def promote(data: Promotion, session: SessionDep, principal: CurrentPrincipal) -> PromotionRead:
    promoted, graduated = await service.promote(session, principal, data)
    return PromotionRead(promoted=await class_reads(session, promoted), graduated=graduated)


@router.get("/classes/{class_id}", response_model=ClassDetail, responses=ERRORS)
async def get_class(class_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> ClassDetail:
    return await class_detail(session, await service.visible_class(session, principal, class_id))


@router.patch("/classes/{class_id}", response_model=ClassDetail, responses=ERRORS)
async def update_class(
    class_id: uuid.UUID, data: ClassUpdate, session: SessionDep, principal: CurrentPrincipal
) -> ClassDetail:
    school_class = await service.update_class(session, principal, class_id, data.head_teacher_id)
    return await class_detail(session, school_class)


@router.delete("/classes/{class_id}", status_code=204, responses=ERRORS)
async def delete_class(class_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Response:
    await service.delete_class(session, principal, class_id)
    return Response(status_code=204)


@router.post("/classes/{class_id}/students", response_model=ClassDetail, responses=ERRORS)
async def add_students(
    class_id: uuid.UUID, data: StudentsAdd, session: SessionDep, principal: CurrentPrincipal
) -> ClassDetail:
    """Students join the class; one in another class of the same school year moves here."""
    school_class = await service.add_students(session, principal, class_id, data.student_ids)
    return await class_detail(session, school_class)


@router.delete("/classes/{class_id}/students/{student_id}", status_code=204, responses=ERRORS)
async def remove_student(
    class_id: uuid.UUID, student_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await service.remove_student(session, principal, class_id, student_id)
    return Response(status_code=204)


@router.post("/classes/{class_id}/teachers", response_model=ClassDetail, responses=ERRORS)
async def add_teacher(
    class_id: uuid.UUID, data: TeacherAdd, session: SessionDep, principal: CurrentPrincipal
) -> ClassDetail:
    school_class = await service.add_teacher(session, principal, class_id, data)
    return await class_detail(session, school_class)


@router.delete("/classes/{class_id}/teachers/{teacher_id}", status_code=204, responses=ERRORS)
async def remove_teacher(
    class_id: uuid.UUID,
    teacher_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    subject: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    await service.remove_teacher(session, principal, class_id, teacher_id, subject)
    return Response(status_code=204)
