"""Teachers search their classes' work: by the student's name, and by the words in it, both the text
handed in and the text the worker read from its documents and photos (services.assignments.texts).

Submissions never enter the public search index; this search reads the database only, as a substring
match (fine for Chinese, which has no spaces to split words at), on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.assignments.repository import SubmissionRepository
from services.assignments.schemas import NamedRef, SubmissionHit
from services.authz import Principal
from services.classes.repository import ClassRepository
from services.classes.service import class_name
from services.errors import Forbidden
from storage.database import contains_pattern
from storage.models.assignments import Submission
from storage.models.identity import Role

SNIPPET_CONTEXT = 30
MAX_HITS = 100


@dataclass(frozen=True)
class WordsFound:
    snippet: str
    # The file the words were read from; None for the text typed in.
    filename: str | None


def snippet(text: str, needle: str) -> str | None:
    """The words around the first place `needle` (lower case) appears in `text`, on one line."""
    at = text.lower().find(needle)
    if at < 0:
        return None
    start, end = max(0, at - SNIPPET_CONTEXT), min(len(text), at + len(needle) + SNIPPET_CONTEXT)
    excerpt = " ".join(text[start:end].split())
    return f"{'…' if start else ''}{excerpt}{'…' if end < len(text) else ''}"


async def _where_found(
    session: AsyncSession, needle: str, submissions: list[Submission]
) -> dict[uuid.UUID, WordsFound]:
    repository = SubmissionRepository(session)
    ids = [item.id for item in submissions]
    filenames = {file.id: file.filename for file in await repository.files(ids)}
    texts = await repository.texts(ids)
    found: dict[uuid.UUID, WordsFound] = {}
    for submission in submissions:
        excerpt = snippet(submission.text, needle)
        if excerpt is not None:
            found[submission.id] = WordsFound(excerpt, None)
            continue
        for text in texts:
            if text.submission_id == submission.id and (excerpt := snippet(text.text, needle)) is not None:
                found[submission.id] = WordsFound(excerpt, filenames.get(text.file_id))
                break
    return found


async def words_in_work(
    session: AsyncSession, needle: str, *, assignment_id: uuid.UUID, class_ids: list[uuid.UUID]
) -> dict[uuid.UUID, WordsFound]:
    """The submissions to one assignment, from these classes, whose words contain `needle`."""
    needle = needle.strip().lower()
    if not needle:
        return {}
    rows = await SubmissionRepository(session).search(
        contains_pattern(needle), assignment_id=assignment_id, class_ids=class_ids, names=False, limit=10_000
    )
    return await _where_found(session, needle, [submission for submission, _, _ in rows])


async def search_submissions(
    session: AsyncSession, principal: Principal, q: str, limit: int = 50
) -> list[SubmissionHit]:
    """Work of the classes the caller teaches (or to assignments they gave), or of a school admin's
    school, whose student's name or words contain `q`; newest first."""
    if principal.role == Role.student:
        raise Forbidden("Searching work is for the teachers of the class")
    needle = q.strip().lower()
    if not needle:
        return []
    school_admin = principal.role == Role.school_admin and principal.school_id is not None
    rows = await SubmissionRepository(session).search(
        contains_pattern(needle),
        teacher_id=None if school_admin else principal.user_id,
        school_id=principal.school_id if school_admin else None,
        limit=min(limit, MAX_HITS),
    )
    found = await _where_found(session, needle, [submission for submission, _, _ in rows])
    classes = {
        item.id: item
        for item in await ClassRepository(session).by_ids(sorted({item.class_id for item, _, _ in rows}))
    }
    hits = []
    for submission, assignment, student in rows:
        words = found.get(submission.id)
        school_class = classes.get(submission.class_id)
        hits.append(
            SubmissionHit(
                submission_id=submission.id,
                assignment=NamedRef(id=assignment.id, name=assignment.title),
                student=NamedRef(id=student.id, name=student.display_name),
                in_class=NamedRef(
                    id=submission.class_id,
                    name=class_name(school_class.grade, school_class.number) if school_class else "",
                ),
                status=submission.status,
                submitted_at=submission.submitted_at,
                matched="words" if words else "name",
                snippet=words.snippet if words else None,
                snippet_file=words.filename if words else None,
            )
        )
    return hits
