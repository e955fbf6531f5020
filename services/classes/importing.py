"""Classes in bulk: class names as schools write them, students placed in classes on import, and
teachers' class–subject assignments (任课安排) from a CSV file, all rows or none."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.classes.repository import ClassRepository
from services.classes.service import TEACHING_ROLES, check_subject, current_school_year
from services.errors import AppError
from storage.models.classes import SchoolClass
from storage.models.identity import User

_NUMERALS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SENIOR = {"高一": 10, "高二": 11, "高三": 12, "初一": 7, "初二": 8, "初三": 9}
_NUMBER = r"(\d{1,2}|[零一二两三四五六七八九十]{1,3})"
_CHINESE_CLASS = re.compile(
    rf"^(?:(?P<senior>[高初][一二三])|{_NUMBER.replace('(', '(?P<grade>', 1)}\s*年级)\s*[（(]?\s*"
    rf"{_NUMBER.replace('(', '(?P<number>', 1)}\s*[）)]?\s*班$"
)
_SHORT_CLASS = re.compile(r"^(?P<grade>\d{1,2})\s*[-./]\s*(?P<number>\d{1,2})$")


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_NUMERALS[tens] if tens else 1) * 10 + (_NUMERALS[ones] if ones else 0)
    if len(text) != 1:
        raise ValueError(text)
    return _NUMERALS[text]


def parse_class_name(text: str) -> tuple[int, int]:
    """(grade, number) of 一年级五班, 七年级(2)班, 高一3班, 1-5; ValueError for anything else."""
    cleaned = re.sub(r"\s+", "", text)
    match = _CHINESE_CLASS.match(cleaned) or _SHORT_CLASS.match(cleaned)
    if match is None:
        raise ValueError(f"{text!r} is not a class name like 一年级五班, 高一3班 or 1-5")
    groups = match.groupdict()
    try:
        grade = _SENIOR[groups["senior"]] if groups.get("senior") else _number(groups["grade"])
        number = _number(groups["number"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{text!r} is not a class name like 一年级五班, 高一3班 or 1-5") from exc
    if not 1 <= grade <= 12 or not 1 <= number <= 99:
        raise ValueError(f"{text!r}: grades are 1–12 and class numbers 1–99")
    return grade, number


async def class_for(
    session: AsyncSession, school_id: uuid.UUID, grade: int, number: int, school_year: int
) -> SchoolClass:
    """The class, made when it does not exist yet (an import sets up a new school year's classes)."""
    repository = ClassRepository(session)
    found = await repository.find(school_id, school_year, grade, number)
    if found is None:
        found = SchoolClass(
            id=uuid.uuid4(), school_id=school_id, school_year=school_year, grade=grade, number=number
        )
        repository.add(found)
        await session.flush()
    return found


async def place_students(
    session: AsyncSession, placements: Sequence[tuple[uuid.UUID, uuid.UUID, int, int]]
) -> int:
    """Put newly imported students (id, school id, grade, number) in this school year's classes."""
    year = current_school_year()
    repository = ClassRepository(session)
    for student_id, school_id, grade, number in placements:
        school_class = await class_for(session, school_id, grade, number, year)
        repository.add_student(school_class.id, student_id, year)
    await session.flush()
    return len(placements)


# -- teachers' class–subject assignments ------------------------------------------------------------

TEACHING_COLUMNS = ("username", "class", "subject")


class TeachingImportRejected(AppError):
    status_code = 422
    code = "invalid_payload"

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Teaching:
    line: int
    teacher_id: uuid.UUID
    school_id: uuid.UUID
    grade: int
    number: int
    subject: str


async def validate_teachings(session: AsyncSession, data: bytes) -> list[Teaching]:
    """Rows username,class,subject (UTF-8 or GBK); every problem as ``line N: message``."""
    from services.identity.importing import decode_csv_bytes

    try:
        text = decode_csv_bytes(data)
    except ValueError as exc:
        raise TeachingImportRejected([f"line 1: {exc}"]) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return await _teachings(session, reader)
    except csv.Error as exc:
        raise TeachingImportRejected([f"the file is not valid CSV: {exc}"]) from exc


async def _teachings(session: AsyncSession, reader: csv.DictReader[str]) -> list[Teaching]:
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if sorted(header) != sorted(TEACHING_COLUMNS):
        raise TeachingImportRejected([f"line 1: expected the header {','.join(TEACHING_COLUMNS)}"])
    reader.fieldnames = header
    errors: list[str] = []
    teachings: list[Teaching] = []
    for line, row in enumerate(reader, start=2):
        username = (row.get("username") or "").strip()
        if not any((value or "").strip() for value in row.values()):
            continue
        teacher = await session.scalar(select(User).where(func.lower(User.username) == username.lower()))
        problems = []
        if teacher is None:
            problems.append(f"no user {username!r}")
        elif teacher.role not in TEACHING_ROLES or teacher.school_id is None:
            problems.append(f"{username!r} is not a teacher of a school")
        try:
            grade, number = parse_class_name(row.get("class") or "")
        except ValueError as exc:
            problems.append(str(exc))
        try:
            subject = check_subject(row.get("subject") or "")
        except AppError as exc:
            problems.append(exc.message)
        if problems:
            errors.extend(f"line {line}: {problem}" for problem in problems)
            continue
        assert teacher is not None and teacher.school_id is not None
        teachings.append(Teaching(line, teacher.id, teacher.school_id, grade, number, subject))
    if not teachings and not errors:
        errors.append("line 2: the file has a header but no rows")
    if errors:
        raise TeachingImportRejected([*errors, f"{len(errors)} problems; nothing was imported"])
    return teachings


async def import_teachings(
    session: AsyncSession, teachings: Sequence[Teaching], school_year: int | None
) -> int:
    """Assign the teachers (classes of the school year are made when missing); returns how many are new."""
    year = school_year or current_school_year()
    repository = ClassRepository(session)
    added = 0
    for teaching in teachings:
        school_class = await class_for(session, teaching.school_id, teaching.grade, teaching.number, year)
        if await repository.teaching(school_class.id, teaching.teacher_id, teaching.subject) is None:
            repository.add_teaching(school_class.id, teaching.teacher_id, teaching.subject)
            await session.flush()
            added += 1
    return added
