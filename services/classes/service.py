"""Use cases of classes: created and staffed by school admins, promoted once a year."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.classes.repository import ClassRepository
from services.classes.schemas import ClassCreate, Promotion, TeacherAdd
from services.errors import AppError, Conflict, Forbidden, NotFound
from services.resources.curriculum import SUBJECTS, normalize_subject
from storage.database import utcnow
from storage.models.classes import SchoolClass
from storage.models.identity import Role, School, User

_DIGITS = "零一二三四五六七八九"
# The last grade of each stage: a school's highest stage is where its classes graduate.
_LAST_GRADE = {"小学": 6, "初中": 9, "高中": 12}
TEACHING_ROLES = frozenset({Role.teacher, Role.school_admin, Role.research_lead})


def chinese_number(number: int) -> str:
    """1..99 as written in class names: 五, 十, 十二, 二十."""
    if number < 10:
        return _DIGITS[number]
    tens, ones = divmod(number, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


_GRADE_NAMES = {10: "高一", 11: "高二", 12: "高三"}


def grade_name(grade: int) -> str:
    if grade in _GRADE_NAMES:
        return _GRADE_NAMES[grade]
    return f"{chinese_number(grade)}年级"


def class_name(grade: int, number: int) -> str:
    """一年级五班, 七年级二班, 高一十二班."""
    return f"{grade_name(grade)}{chinese_number(number)}班"


def current_school_year(now: datetime | None = None) -> int:
    """School years start in September (August counts as the coming year: classes are set up then)."""
    moment = now or utcnow()
    return moment.year if moment.month >= 8 else moment.year - 1


def last_grade(school: School) -> int:
    stages = [stage for stage in _LAST_GRADE if stage in (school.stages or "")]
    return max((_LAST_GRADE[stage] for stage in stages), default=12)


class InvalidMember(AppError):
    status_code = 422
    code = "invalid_payload"


@dataclass(frozen=True)
class Relation:
    """How a user stands to some classes: which they teach, which they are a student of."""

    teaches: frozenset[uuid.UUID]
    member: frozenset[uuid.UUID]


async def relation(session: AsyncSession, principal: Principal, class_ids: list[uuid.UUID]) -> Relation:
    repository = ClassRepository(session)
    if principal.role == Role.student:
        return Relation(frozenset(), frozenset(await repository.member_of(principal.user_id, class_ids)))
    return Relation(frozenset(await repository.teaches(principal.user_id, class_ids)), frozenset())


async def _school(session: AsyncSession, school_id: uuid.UUID) -> School:
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound("School not found")
    return school


def _school_of_request(principal: Principal, school_id: uuid.UUID | None) -> uuid.UUID:
    chosen = school_id or principal.school_id
    if chosen is None:
        raise AppError("Name the school (school_id)", 422, code="invalid_payload")
    if not authz.can_manage_classes(principal, chosen):
        # Another school's classes are not this admin's to know about.
        if principal.role in (Role.school_admin, Role.district_admin):
            raise NotFound("School not found")
        raise Forbidden("Classes are managed by the school's administrators")
    return chosen


async def visible_class(session: AsyncSession, principal: Principal, class_id: uuid.UUID) -> SchoolClass:
    school_class = await ClassRepository(session).get(class_id)
    if school_class is None:
        raise NotFound("Class not found")
    related = await relation(session, principal, [class_id])
    if not authz.can_see_class(
        principal,
        school_class.school_id,
        teaches=class_id in related.teaches,
        member=class_id in related.member,
    ):
        raise NotFound("Class not found")
    return school_class


async def managed_class(session: AsyncSession, principal: Principal, class_id: uuid.UUID) -> SchoolClass:
    school_class = await visible_class(session, principal, class_id)
    if not authz.can_manage_classes(principal, school_class.school_id):
        raise Forbidden("Classes are managed by the school's administrators")
    return school_class


async def _school_member(
    session: AsyncSession, user_id: uuid.UUID, school_id: uuid.UUID, roles: frozenset[Role], what: str
) -> User:
    user = await session.get(User, user_id)
    if user is None or user.school_id != school_id:
        raise InvalidMember(f"{what} {user_id} is not a member of this school")
    if user.role not in roles:
        raise InvalidMember(f"{user.username} is not a {what.lower()}")
    return user


async def create_class(session: AsyncSession, principal: Principal, data: ClassCreate) -> SchoolClass:
    school_id = _school_of_request(principal, data.school_id)
    await _school(session, school_id)
    year = data.school_year or current_school_year()
    repository = ClassRepository(session)
    if await repository.find(school_id, year, data.grade, data.number) is not None:
        raise Conflict(f"{class_name(data.grade, data.number)} already exists in the {year} school year")
    if data.head_teacher_id is not None:
        await _school_member(session, data.head_teacher_id, school_id, TEACHING_ROLES, "Teacher")
    school_class = SchoolClass(
        id=uuid.uuid4(),
        school_id=school_id,
        school_year=year,
        grade=data.grade,
        number=data.number,
        head_teacher_id=data.head_teacher_id,
    )
    repository.add(school_class)
    await session.flush()
    return school_class


async def list_classes(
    session: AsyncSession, principal: Principal, school_id: uuid.UUID | None, school_year: int | None
) -> list[SchoolClass]:
    """Admins: their school's (a district admin names one); teachers: the classes they teach;
    students: their own."""
    repository = ClassRepository(session)
    if principal.role == Role.student:
        classes = await repository.of_student(principal.user_id)
        return [item for item in classes if school_year is None or item.school_year == school_year]
    if principal.role in (Role.school_admin, Role.district_admin) and (school_id or principal.school_id):
        return await repository.of_school(_school_of_request(principal, school_id), school_year)
    return await repository.taught_by(principal.user_id, school_year)


async def update_class(
    session: AsyncSession, principal: Principal, class_id: uuid.UUID, head_teacher_id: uuid.UUID | None
) -> SchoolClass:
    school_class = await managed_class(session, principal, class_id)
    if head_teacher_id is not None:
        await _school_member(session, head_teacher_id, school_class.school_id, TEACHING_ROLES, "Teacher")
    school_class.head_teacher_id = head_teacher_id
    return school_class


async def delete_class(session: AsyncSession, principal: Principal, class_id: uuid.UUID) -> None:
    school_class = await managed_class(session, principal, class_id)
    repository = ClassRepository(session)
    if await repository.has_assignments(class_id):
        raise Conflict("This class has assignments; it stays as a record of them")
    await repository.delete(school_class)


async def add_students(
    session: AsyncSession, principal: Principal, class_id: uuid.UUID, student_ids: list[uuid.UUID]
) -> SchoolClass:
    school_class = await managed_class(session, principal, class_id)
    await place_students(session, school_class, student_ids)
    return school_class


async def place_students(
    session: AsyncSession, school_class: SchoolClass, student_ids: list[uuid.UUID]
) -> None:
    """Put students in a class; one already in another class of that year moves (one class per year)."""
    repository = ClassRepository(session)
    for student_id in dict.fromkeys(student_ids):
        await _school_member(
            session, student_id, school_class.school_id, frozenset({Role.student}), "Student"
        )
        current = await repository.class_of_student_in_year(student_id, school_class.school_year)
        if current is not None:
            if current.class_id == school_class.id:
                continue
            await repository.remove_student(current.class_id, student_id)
            await session.flush()
        repository.add_student(school_class.id, student_id, school_class.school_year)
    await session.flush()


async def remove_student(
    session: AsyncSession, principal: Principal, class_id: uuid.UUID, student_id: uuid.UUID
) -> None:
    await managed_class(session, principal, class_id)
    if not await ClassRepository(session).remove_student(class_id, student_id):
        raise NotFound("This student is not in this class")


def check_subject(subject: str) -> str:
    try:
        return normalize_subject(subject)
    except ValueError as exc:
        raise InvalidMember(f"{subject!r} is not a subject ({'、'.join(SUBJECTS)})") from exc


async def add_teacher(
    session: AsyncSession, principal: Principal, class_id: uuid.UUID, data: TeacherAdd
) -> SchoolClass:
    school_class = await managed_class(session, principal, class_id)
    await assign_teacher(session, school_class, data.teacher_id, data.subject)
    return school_class


async def assign_teacher(
    session: AsyncSession, school_class: SchoolClass, teacher_id: uuid.UUID, subject: str
) -> None:
    subject = check_subject(subject)
    await _school_member(session, teacher_id, school_class.school_id, TEACHING_ROLES, "Teacher")
    repository = ClassRepository(session)
    if await repository.teaching(school_class.id, teacher_id, subject) is None:
        repository.add_teaching(school_class.id, teacher_id, subject)
        await session.flush()


async def remove_teacher(
    session: AsyncSession,
    principal: Principal,
    class_id: uuid.UUID,
    teacher_id: uuid.UUID,
    subject: str | None,
) -> None:
    await managed_class(session, principal, class_id)
    if not await ClassRepository(session).remove_teaching(class_id, teacher_id, subject):
        raise NotFound("This teacher does not teach this class")


async def promote(
    session: AsyncSession, principal: Principal, data: Promotion
) -> tuple[list[SchoolClass], int]:
    """A new school year in one step: every class of `from_year` below the school's last grade becomes
    next year's class one grade up, with its students, head teacher and subject teachers (admins adjust
    from there); classes in the last grade graduate. Running it twice is a 409."""
    school_id = _school_of_request(principal, data.school_id)
    school = await _school(session, school_id)
    repository = ClassRepository(session)
    classes = await repository.of_school(school_id, data.from_year)
    if not classes:
        raise NotFound(f"The school has no classes in the {data.from_year} school year")
    if await repository.of_school(school_id, data.from_year + 1):
        raise Conflict(f"The {data.from_year + 1} school year already has classes; promotion ran already")
    top = last_grade(school)
    class_ids = [item.id for item in classes]
    members = await repository.student_ids(class_ids)
    teachings = await repository.teachings(class_ids)
    promoted: list[SchoolClass] = []
    graduated = 0
    for old in classes:
        if old.grade >= top:
            graduated += 1
            continue
        new = SchoolClass(
            id=uuid.uuid4(),
            school_id=school_id,
            school_year=data.from_year + 1,
            grade=old.grade + 1,
            number=old.number,
            head_teacher_id=old.head_teacher_id,
            previous_id=old.id,
        )
        repository.add(new)
        await session.flush()
        for class_id, student_id in members:
            if class_id == old.id:
                repository.add_student(new.id, student_id, new.school_year)
        for class_id, teacher, subject in teachings:
            if class_id == old.id:
                repository.add_teaching(new.id, teacher.id, subject)
        promoted.append(new)
    await session.flush()
    return promoted, graduated
