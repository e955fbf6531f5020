"""The textbook tree: 学段 → 学科 → 版本 → 册次 from the search index's counts (so both backends and the
caller's permissions decide them alike), units and lessons from the resources the caller may open plus
the district catalog, so lessons without resources show too."""

from __future__ import annotations

import csv
import io
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import DocKind, SearchQuery
from search.index import SearchIndex, SearchUnavailable
from services import authz
from services.authz import Principal
from services.classes.repository import ClassRepository
from services.classes.service import current_school_year, grade_name
from services.errors import AppError, ServiceUnavailable
from services.resources import curriculum
from services.resources.repository import ResourceFilters, ResourceRepository
from services.textbooks.repository import TextbookRepository
from services.textbooks.schemas import Book, Count, Lesson, LessonResource, TreePath, Unit
from storage.models.identity import Role
from storage.models.textbooks import CatalogLesson

MAX_BOOK_RESOURCES = 1000
MAX_CATALOG_ROWS = 20_000
NO_UNIT = "（未分单元）"
NO_LESSON = "（未分课）"
CATALOG_COLUMNS = ("subject", "edition", "grade", "volume", "unit", "lesson")


class InvalidCatalog(AppError):
    status_code = 422
    code = "invalid_payload"


def canonical_path(path: TreePath) -> TreePath:
    return TreePath(
        stage=path.stage or (curriculum.stage_for_grade(path.grade) if path.grade else None),
        subject=curriculum.canonical_subject(path.subject) if path.subject else None,
        edition=curriculum.normalize_edition(path.edition) if path.edition else None,
        grade=path.grade,
        volume=curriculum.canonical_volume(path.volume) if path.volume else None,
    )


async def _facet(
    index: SearchIndex, principal: Principal | None, filters: dict[str, str], name: str
) -> list[tuple[str, int]]:
    query = SearchQuery(
        text="",
        filters={"kind": [DocKind.resource.value], **{key: [value] for key, value in filters.items()}},
        access=authz.search_access(principal),
        limit=0,
        facets=[name],
        group_by_parent=True,
    )
    try:
        result = await index.search(query)
    except SearchUnavailable as exc:
        raise ServiceUnavailable("Search is unavailable, try again shortly") from exc
    return [(value.value, value.count) for value in result.facets.get(name, []) if value.count > 0]


async def home(session: AsyncSession, principal: Principal | None) -> tuple[TreePath, dict[str, str]]:
    """Where a caller's walk opens: a student at their class's grade; everyone at their school's editions."""
    if principal is None:
        return TreePath(), {}
    editions = (
        await TextbookRepository(session).school_editions(principal.school_id) if principal.school_id else {}
    )
    if principal.role == Role.student:
        year = current_school_year()
        mine = [
            item
            for item in await ClassRepository(session).of_student(principal.user_id)
            if item.school_year == year
        ]
        if mine:
            grade = mine[0].grade
            return TreePath(stage=curriculum.stage_for_grade(grade), grade=grade), editions
    return TreePath(), editions


async def tree(
    session: AsyncSession, index: SearchIndex, principal: Principal | None, asked: TreePath
) -> dict[str, object]:
    path = canonical_path(asked)
    start, editions = await home(session, principal)
    filters: dict[str, str] = {}
    stages = [
        Count(value=value, label=value, count=count)
        for value, count in await _facet(index, principal, filters, "stage")
    ]
    subjects: list[Count] = []
    edition_counts: list[Count] = []
    books: list[Book] = []
    units: list[Unit] = []
    if path.stage:
        filters["stage"] = path.stage
        if path.grade:
            filters["grade"] = str(path.grade)
        subjects = [
            Count(value=value, label=value, count=count)
            for value, count in await _facet(index, principal, filters, "subject")
        ]
    if path.stage and path.subject:
        filters["subject"] = path.subject
        edition_counts = [
            Count(value=value, label=value, count=count)
            for value, count in await _facet(index, principal, filters, "edition")
        ]
    if path.stage and path.subject and path.edition:
        filters["edition"] = path.edition
        grades = (
            [path.grade]
            if path.grade
            else sorted(
                int(value) for value, _ in await _facet(index, principal, filters, "grade") if value.isdigit()
            )
        )
        for grade in grades:
            for volume, count in await _facet(index, principal, {**filters, "grade": str(grade)}, "volume"):
                books.append(
                    Book(grade=grade, volume=volume, label=f"{grade_name(grade)}{volume}", count=count)
                )
        books.sort(key=lambda book: (book.grade, _volume_order(book.volume)))
    if path.subject and path.edition and path.grade and path.volume:
        units = await _units(session, principal, path)
    return {
        "path": path,
        "stages": stages,
        "subjects": subjects,
        "editions": edition_counts,
        "books": books,
        "units": units,
        "home": start,
        "school_editions": editions,
    }


def _volume_order(volume: str) -> int:
    return curriculum.VOLUMES.index(volume) if volume in curriculum.VOLUMES else len(curriculum.VOLUMES)


async def _units(session: AsyncSession, principal: Principal | None, path: TreePath) -> list[Unit]:
    assert path.subject and path.edition and path.grade and path.volume
    resources, _ = await ResourceRepository(session).list_readable(
        authz.search_access(principal),
        ResourceFilters(subject=path.subject, edition=path.edition, grade=path.grade, volume=path.volume),
        sort="title",
        offset=0,
        limit=MAX_BOOK_RESOURCES,
    )
    # The catalog's order first (empty lessons included), then what resources declare beyond it.
    tree: dict[str, dict[str, list[LessonResource]]] = {}
    for row in await TextbookRepository(session).catalog(path.subject, path.edition, path.grade, path.volume):
        tree.setdefault(row.unit, {}).setdefault(row.lesson, [])
    for resource in resources:
        lessons = tree.setdefault(resource.unit or NO_UNIT, {})
        lessons.setdefault(resource.lesson or NO_LESSON, []).append(
            LessonResource(id=resource.id, title=resource.title, resource_type=resource.resource_type)
        )
    return [
        Unit(
            name=unit,
            count=sum(len(items) for items in lessons.values()),
            lessons=[Lesson(name=name, count=len(items), resources=items) for name, items in lessons.items()],
        )
        for unit, lessons in tree.items()
    ]


async def set_school_editions(
    session: AsyncSession, principal: Principal, school_id: uuid.UUID, editions: dict[str, str]
) -> dict[str, str]:
    if not authz.can_update_school(principal, school_id, ["stages"]):
        raise AppError("Only the school's administrators set its editions", 403, code="forbidden")
    try:
        chosen = {
            curriculum.normalize_subject(subject): _edition(edition) for subject, edition in editions.items()
        }
    except ValueError as exc:
        raise AppError(str(exc), 422, code="invalid_payload") from exc
    await TextbookRepository(session).replace_school_editions(school_id, chosen)
    return chosen


def _edition(value: str) -> str:
    edition = curriculum.normalize_edition(value)
    if not edition or len(edition) > 64:
        raise ValueError("edition is required (at most 64 characters)")
    return edition


def parse_catalog(data: bytes) -> list[CatalogLesson]:
    """CSV with a header row subject,edition,grade,volume,unit,lesson (UTF-8 or GBK), in teaching order."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gbk")
        except UnicodeDecodeError as exc:
            raise InvalidCatalog("The catalog is neither UTF-8 nor GBK text") from exc
    try:
        return _catalog_rows(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidCatalog(f"The catalog is not valid CSV: {exc}") from exc


def _catalog_rows(reader: csv.DictReader[str]) -> list[CatalogLesson]:
    missing = [column for column in CATALOG_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise InvalidCatalog(
            f"The catalog needs the columns {', '.join(CATALOG_COLUMNS)}; missing {', '.join(missing)}"
        )
    lessons = []
    for number, row in enumerate(reader, start=2):
        if number > MAX_CATALOG_ROWS:
            raise InvalidCatalog(f"At most {MAX_CATALOG_ROWS} lessons per file")
        try:
            grade = int((row["grade"] or "").strip())
            unit, lesson = (row["unit"] or "").strip(), (row["lesson"] or "").strip()
            if not unit or not lesson or len(unit) > 100 or len(lesson) > 200:
                raise ValueError("unit and lesson are required (at most 100 and 200 characters)")
            lessons.append(
                CatalogLesson(
                    id=uuid.uuid4(),
                    stage=curriculum.stage_for_grade(grade),
                    subject=curriculum.normalize_subject(row["subject"] or ""),
                    edition=_edition(row["edition"] or ""),
                    grade=grade,
                    volume=curriculum.normalize_volume(row["volume"] or ""),
                    unit=unit,
                    lesson=lesson,
                    position=number,
                )
            )
        except (ValueError, TypeError) as exc:
            raise InvalidCatalog(f"Line {number}: {exc}") from exc
    return lessons


async def import_catalog(session: AsyncSession, principal: Principal, data: bytes) -> tuple[int, int]:
    authz.require_district_admin(principal)
    lessons = parse_catalog(data)
    books = sorted({(item.subject, item.edition, item.grade, item.volume) for item in lessons})
    await TextbookRepository(session).replace_books(books, lessons)
    return len(books), len(lessons)
