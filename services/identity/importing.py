"""Bulk import of users from a CSV file: parse, validate everything, then hash and insert.

The steps are plain functions so they work without the CLI:

    rows, errors = parse_user_csv(data)
    users, errors, skipped = await validate_rows(session, rows, skip_existing=False)
    count = await import_users(session, users, on_progress=...)

Importing is all-or-nothing: callers import only when there are no errors at all, and run
``import_users`` in one transaction that they commit themselves. Validation may run in an earlier
transaction: ``import_users`` checks the usernames again, and the database enforces the schools.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from services.classes.importing import parse_class_name, place_students
from services.identity.passwords import MIN_PASSWORD_LENGTH, hash_password
from services.identity.repository import SchoolRepository, UserRepository
from services.identity.service import SCHOOL_ROLES
from storage.models.identity import Role, User

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{3,64}")
MAX_DISPLAY_NAME_LENGTH = 100
# The API's limit for passwords (services.identity.schemas.Password).
MAX_PASSWORD_LENGTH = 128
GENERATED_PASSWORD_LENGTH = 12
# No 0/O, 1/l/I: generated passwords are handed out on paper and typed in by children.
READABLE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
INSERT_BATCH_SIZE = 500
# Keeps IN (...) lists well below SQLite's bound-parameter limit.
LOOKUP_BATCH_SIZE = 500
# argon2 takes tens of milliseconds and 64 MiB per hash and releases the GIL while it works.
HASH_WORKERS = max(1, min(4, os.cpu_count() or 1))

# `class` (optional, students only): 一年级五班, 高一3班 or 1-5, in the current school year; made if missing.
COLUMNS = ("username", "display_name", "role", "school", "password", "class")
REQUIRED_COLUMNS = frozenset({"username", "display_name", "role"})

ROLE_LABELS: dict[str, Role] = {
    **{role.value: role for role in Role},
    "学生": Role.student,
    "教师": Role.teacher,
    "教研员": Role.research_lead,
    "学校管理员": Role.school_admin,
    "区管理员": Role.district_admin,
}

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class ImportRow:
    """One data line of the file as written, whitespace trimmed (except in the password)."""

    line: int
    username: str
    display_name: str
    role: str
    school: str
    password: str | None
    class_name: str = ""


@dataclass(frozen=True)
class UserToImport:
    """A row that passed validation: role and school resolved, password given or generated."""

    line: int
    username: str
    display_name: str
    role: Role
    school_id: uuid.UUID | None
    password: str
    password_generated: bool
    # (grade, number) of the class a student goes into.
    class_key: tuple[int, int] | None = None


class ImportRejected(Exception):
    """The file, or the import as asked for, is invalid; ``errors`` says why. Nothing was imported."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class ImportConflict(Exception):
    """Usernames were taken between validation and insertion; nothing was imported."""

    def __init__(self, usernames: Sequence[str]) -> None:
        self.usernames = list(usernames)
        super().__init__(f"usernames taken during the import: {', '.join(self.usernames)}")


# -- parsing ------------------------------------------------------------------------------------


def decode_csv_bytes(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), else GB18030, the superset of GBK."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ValueError("the file is neither UTF-8 nor GBK/GB18030 text") from exc


def parse_user_csv(data: bytes) -> tuple[list[ImportRow], list[str]]:
    """Rows of a users CSV and problems with its shape, as ``line N: message`` (the header is line 1)."""
    try:
        text = decode_csv_bytes(data)
    except ValueError as exc:
        return [], [f"line 1: {exc}"]
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[ImportRow] = []
    errors: list[str] = []
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [f"line 1: {exc}"]
    if header is None or not any(cell.strip() for cell in header):
        return [], ["line 1: the file is empty; expected the header " + ",".join(COLUMNS)]
    columns = [cell.strip().lower() for cell in header]
    header_errors = _check_header(columns)
    if header_errors:
        return [], [f"line 1: {message}" for message in header_errors]

    end_of_previous = reader.line_num
    while True:
        line = end_of_previous + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"line {line}: {exc}")
            break
        end_of_previous = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank lines, including the ",,,," Excel leaves behind
        if len(record) > len(columns):
            errors.append(f"line {line}: {len(record)} fields but the header has {len(columns)}")
            continue
        values = dict(zip(columns, record, strict=False))
        password = values.get("password", "")
        rows.append(
            ImportRow(
                line=line,
                username=values.get("username", "").strip(),
                display_name=values.get("display_name", "").strip(),
                role=values.get("role", "").strip(),
                school=values.get("school", "").strip(),
                password=password if password.strip() else None,
                class_name=values.get("class", "").strip(),
            )
        )
    if not rows and not errors:
        errors.append("line 2: the file has a header but no users")
    return rows, errors


def _check_header(columns: list[str]) -> list[str]:
    problems = []
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}; expected {','.join(COLUMNS)}")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        problems.append(f"repeated column(s) {', '.join(map(repr, repeated))}")
    missing = sorted(REQUIRED_COLUMNS - set(columns))
    if missing:
        problems.append(f"missing column(s) {', '.join(map(repr, missing))}")
    return problems


def by_line(messages: Iterable[str]) -> list[str]:
    """``line N: ...`` messages in line order (stable for messages of the same line)."""

    def line_number(message: str) -> int:
        match = re.match(r"line (\d+):", message)
        return int(match.group(1)) if match else 0

    return sorted(messages, key=line_number)


# -- validation ---------------------------------------------------------------------------------


def parse_role(value: str) -> Role | None:
    return ROLE_LABELS.get(value) or ROLE_LABELS.get(value.lower())


def generate_password() -> str:
    return "".join(secrets.choice(READABLE_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))


async def validate_rows(
    session: AsyncSession, rows: Sequence[ImportRow], *, skip_existing: bool
) -> tuple[list[UserToImport], list[str], int]:
    """Check every row; return the users to import, every error as ``line N: message``, and how many
    rows were skipped because the username exists (only with ``skip_existing``; otherwise that is an
    error). Missing passwords are generated here. Import nothing unless the error list is empty.
    """
    errors: dict[int, list[str]] = {}

    def fail(row: ImportRow, message: str) -> None:
        errors.setdefault(row.line, []).append(message)

    schools = await _resolve_schools(session, {row.school for row in rows if row.school})
    first_line: dict[str, int] = {}
    candidates: list[tuple[ImportRow, Role, uuid.UUID | None, tuple[int, int] | None]] = []
    for row in rows:
        if not USERNAME_PATTERN.fullmatch(row.username):
            fail(row, f"username {row.username!r} must be 3-64 letters, digits or _ . -")
        else:
            seen = first_line.setdefault(row.username.lower(), row.line)
            if seen != row.line:
                fail(row, f"username {row.username!r} already appears on line {seen}")
        if not row.display_name:
            fail(row, "display_name is empty")
        elif len(row.display_name) > MAX_DISPLAY_NAME_LENGTH:
            fail(row, f"display_name is longer than {MAX_DISPLAY_NAME_LENGTH} characters")
        if row.password is not None and not MIN_PASSWORD_LENGTH <= len(row.password) <= MAX_PASSWORD_LENGTH:
            fail(row, f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
        role = parse_role(row.role)
        school_id: uuid.UUID | None = None
        if role is None:
            labels = ", ".join(ROLE_LABELS)
            fail(row, f"unknown role {row.role!r}; use one of {labels}" if row.role else "role is empty")
        elif role in SCHOOL_ROLES:
            if not row.school:
                fail(row, f"a {role.value} must belong to a school; school is empty")
            elif row.school not in schools:
                fail(row, f"no school named or coded {row.school!r}")
            else:
                school_id = schools[row.school]
        elif row.school:
            fail(row, f"a {role.value} works across schools; leave school empty")
        class_key: tuple[int, int] | None = None
        if row.class_name:
            try:
                class_key = parse_class_name(row.class_name)
            except ValueError as exc:
                fail(row, str(exc))
            if role is not None and role != Role.student:
                fail(
                    row,
                    f"only students go in a class; a {role.value}'s come from the teachers' import",
                )
        if role is not None and row.line not in errors:
            candidates.append((row, role, school_id, class_key))

    taken = await existing_usernames(session, [row.username for row, _, _, _ in candidates])
    users: list[UserToImport] = []
    skipped = 0
    for row, role, school_id, class_key in candidates:
        if row.username.lower() in taken:
            if skip_existing:
                skipped += 1
            else:
                fail(row, f"username {row.username!r} already exists")
            continue
        password = row.password if row.password is not None else generate_password()
        users.append(
            UserToImport(
                line=row.line,
                username=row.username,
                display_name=row.display_name,
                role=role,
                school_id=school_id,
                password=password,
                password_generated=row.password is None,
                class_key=class_key,
            )
        )
    messages = [f"line {line}: {message}" for line in sorted(errors) for message in errors[line]]
    return ([] if messages else users), messages, skipped


async def _resolve_schools(session: AsyncSession, values: Iterable[str]) -> dict[str, uuid.UUID]:
    repository = SchoolRepository(session)
    found: dict[str, uuid.UUID] = {}
    for value in sorted(values):
        school = await repository.find_by_name_or_code(value)
        if school is not None:
            found[value] = school.id
    return found


async def existing_usernames(session: AsyncSession, usernames: Sequence[str]) -> set[str]:
    """The lower-cased usernames among these that already exist, looked up in batches."""
    repository = UserRepository(session)
    taken: set[str] = set()
    for start in range(0, len(usernames), LOOKUP_BATCH_SIZE):
        taken |= await repository.existing_usernames(usernames[start : start + LOOKUP_BATCH_SIZE])
    return taken


# -- importing ----------------------------------------------------------------------------------


async def hash_passwords(
    passwords: Sequence[str], *, on_progress: ProgressCallback | None = None, workers: int = HASH_WORKERS
) -> list[str]:
    """argon2 hashes in the same order, computed in a thread pool; ``on_progress(done)`` after each."""
    loop = asyncio.get_running_loop()
    hashes: list[str] = [""] * len(passwords)

    async def one(index: int, pool: ThreadPoolExecutor) -> int:
        hashes[index] = await loop.run_in_executor(pool, hash_password, passwords[index])
        return index

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2") as pool:
        pending = [asyncio.ensure_future(one(index, pool)) for index in range(len(passwords))]
        try:
            for done, finished in enumerate(asyncio.as_completed(pending), start=1):
                await finished
                if on_progress is not None:
                    on_progress(done)
        finally:
            for task in pending:
                task.cancel()
            # Drop queued hashes on failure instead of finishing thousands nobody will use.
            pool.shutdown(wait=True, cancel_futures=True)
    return hashes


async def import_users(
    session: AsyncSession,
    users: Sequence[UserToImport],
    *,
    on_progress: ProgressCallback | None = None,
    workers: int = HASH_WORKERS,
) -> int:
    """Hash the passwords, then insert the users in batches; return how many were added.

    ``on_progress(done)`` is called with the number of users processed so far. Hashing comes first
    and touches no database, so a transaction begun just before this call stays open (and, on
    SQLite, holds the write lock) only as long as the inserts. The caller owns the transaction and
    commits it; nothing is visible before that.
    """
    hashes = await hash_passwords([user.password for user in users], on_progress=on_progress, workers=workers)
    # Re-check inside the importing transaction: someone may have taken a name since validation.
    taken = await existing_usernames(session, [user.username for user in users])
    if taken:
        raise ImportConflict(sorted(user.username for user in users if user.username.lower() in taken))
    repository = UserRepository(session)
    placements: list[tuple[uuid.UUID, uuid.UUID, int, int]] = []
    for start in range(0, len(users), INSERT_BATCH_SIZE):
        batch = [
            User(
                username=user.username,
                display_name=user.display_name,
                password_hash=password_hash,
                role=user.role,
                school_id=user.school_id,
            )
            for user, password_hash in zip(
                users[start : start + INSERT_BATCH_SIZE],
                hashes[start : start + INSERT_BATCH_SIZE],
                strict=True,
            )
        ]
        repository.add_all(batch)
        await session.flush()
        for user, row in zip(users[start : start + INSERT_BATCH_SIZE], batch, strict=True):
            if user.class_key is not None and user.school_id is not None:
                placements.append((row.id, user.school_id, *user.class_key))
    await place_students(session, placements)
    return len(users)


# -- credentials --------------------------------------------------------------------------------


def generated_credentials(users: Iterable[UserToImport]) -> list[tuple[str, str]]:
    return [(user.username, user.password) for user in users if user.password_generated]


def write_credentials(path: Path, credentials: Iterable[tuple[str, str]]) -> Path:
    """Write ``username,password`` rows to a private temporary file next to ``path`` and return it.

    Move it into place with ``Path.replace`` once the import has committed, and delete it if the
    import fails, so the credentials file exists exactly when its users do.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file readable by its owner only: it holds plain-text passwords.
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(("username", "password"))
            writer.writerows(credentials)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)
