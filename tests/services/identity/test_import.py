"""`jiaoyun users import` and the functions behind it."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from services.cli import app
from services.identity import importing
from services.identity.passwords import verify_password
from services.settings import Settings
from storage.database import create_engine, create_sessionmaker
from storage.models.identity import Role, School, User
from tests import stacks
from tests.factories import make_school, make_user

runner = CliRunner()
T = TypeVar("T")

HEADER = "username,display_name,role,school,password\n"
SCHOOL_NAME = "金水区第一小学"
SCHOOL_CODE = "JS01"


# -- helpers -------------------------------------------------------------------------------------


def embedded_env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JIAOYUN_")}
    env["JIAOYUN_DATA_DIR"] = str(data_dir)
    return env


def in_database(data_dir: Path, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in a committed transaction on the embedded database the CLI uses."""

    async def run() -> T:
        settings = Settings(data_dir=data_dir, database_url="")
        engine = create_engine(settings.resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def all_users(data_dir: Path) -> dict[str, User]:
    async def load(session: AsyncSession) -> dict[str, User]:
        return {user.username: user for user in (await session.scalars(select(User))).all()}

    return in_database(data_dir, load)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A migrated embedded installation with one school."""
    directory = tmp_path / "data"
    result = runner.invoke(app, ["migrate"], env=embedded_env(directory))
    assert result.exit_code == 0, result.output

    async def add_school(session: AsyncSession) -> School:
        return await make_school(session, name=SCHOOL_NAME, code=SCHOOL_CODE)

    in_database(directory, add_school)
    return directory


def import_file(data_dir: Path, file: Path, *options: str) -> Result:
    return runner.invoke(app, ["users", "import", str(file), *options], env=embedded_env(data_dir))


def write_csv(path: Path, body: str, encoding: str = "utf-8") -> Path:
    path.write_bytes((HEADER + body).encode(encoding))
    return path


# -- the command -----------------------------------------------------------------------------------


def test_imports_hundreds_of_students_and_writes_generated_credentials(
    data_dir: Path, tmp_path: Path
) -> None:
    lines = [
        f"s{number:04d},学生{number},student,{SCHOOL_CODE if number % 2 else SCHOOL_NAME},"
        for number in range(300)
    ]
    source = write_csv(tmp_path / "students.csv", "\n".join(lines) + "\n")
    credentials_file = tmp_path / "credentials.csv"

    result = import_file(data_dir, source, "--credentials-out", str(credentials_file))

    assert result.exit_code == 0, result.output
    assert "imported 300 users (0 skipped)" in result.stdout
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    with credentials_file.open(encoding="utf-8", newline="") as file:
        credentials = list(csv.DictReader(file))
    assert [row["username"] for row in credentials] == [f"s{number:04d}" for number in range(300)]
    passwords = [row["password"] for row in credentials]
    assert len(set(passwords)) == 300
    assert all(len(password) == 12 for password in passwords)
    assert not list(tmp_path.glob(".credentials.csv.*")), "temporary credentials file left behind"

    users = all_users(data_dir)
    assert len(users) == 300
    school_ids = {user.school_id for user in users.values()}
    assert len(school_ids) == 1 and None not in school_ids
    assert {user.role for user in users.values()} == {Role.student}
    assert users["s0007"].display_name == "学生7"
    for row in (credentials[0], credentials[151], credentials[-1]):
        assert verify_password(row["password"], users[row["username"]].password_hash)
    assert not verify_password(credentials[1]["password"], users[credentials[0]["username"]].password_hash)


def test_utf8_bom_and_chinese_role_labels(data_dir: Path, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "staff.csv",
        "t.zhang,张老师,教师,JS01,teacher-pass-1\r\n"
        "a.li,李校长,学校管理员,金水区第一小学,school-admin-1\r\n"
        "s.wang,王同学,学生,JS01,student-pass-1\r\n"
        "r.zhao,赵教研员,教研员,,research-pass-1\r\n"
        "d.qian,钱主任,区管理员,,district-pass-1\r\n",
        encoding="utf-8-sig",
    )

    result = import_file(data_dir, source)

    assert result.exit_code == 0, result.output
    assert "imported 5 users (0 skipped)" in result.stdout
    users = all_users(data_dir)
    assert {name: user.role for name, user in users.items()} == {
        "t.zhang": Role.teacher,
        "a.li": Role.school_admin,
        "s.wang": Role.student,
        "r.zhao": Role.research_lead,
        "d.qian": Role.district_admin,
    }
    assert users["r.zhao"].school_id is None and users["d.qian"].school_id is None
    assert users["t.zhang"].school_id is not None
    assert users["t.zhang"].display_name == "张老师"
    assert verify_password("teacher-pass-1", users["t.zhang"].password_hash)


def test_gbk_encoded_file(data_dir: Path, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "gbk.csv",
        f"liu01,刘德华,学生,{SCHOOL_NAME},gbk-password\nchen01,陈老师,教师,{SCHOOL_NAME},gbk-password\n",
        encoding="gbk",
    )

    result = import_file(data_dir, source)

    assert result.exit_code == 0, result.output
    users = all_users(data_dir)
    assert users["liu01"].display_name == "刘德华"
    assert users["chen01"].role == Role.teacher


def test_an_invalid_file_imports_nothing_and_names_every_bad_line(data_dir: Path, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "bad.csv",
        "ok1,好学生,student,JS01,\n"  # line 2
        "bad.role,某人,principal,JS01,\n"  # line 3
        "ok2,好学生,student,JS01,\n"  # line 4
        "lost,某人,student,不存在的学校,\n"  # line 5
        "OK1,重复,student,JS01,\n",  # line 6
    )
    credentials_file = tmp_path / "credentials.csv"

    result = import_file(data_dir, source, "--credentials-out", str(credentials_file))

    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert [error.split(":")[0] for error in errors] == ["line 3", "line 5", "line 6"], result.stderr
    assert "principal" in errors[0]
    assert "不存在的学校" in errors[1]
    assert "line 2" in errors[2]
    assert "nothing was imported" in result.stderr
    assert "imported" not in result.stdout
    assert all_users(data_dir) == {}
    assert not credentials_file.exists()


def test_skip_existing(data_dir: Path, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "first.csv", "amy,Amy,teacher,JS01,first-password\n")
    assert import_file(data_dir, first).exit_code == 0
    again = write_csv(
        tmp_path / "again.csv",
        "AMY,Amy again,teacher,JS01,other-password\nbob,Bob,teacher,JS01,bobs-password\n",
    )

    rejected = import_file(data_dir, again)
    assert rejected.exit_code == 1
    assert "line 2: username 'AMY' already exists" in rejected.stderr
    assert set(all_users(data_dir)) == {"amy"}

    result = import_file(data_dir, again, "--skip-existing")
    assert result.exit_code == 0, result.output
    assert "imported 1 users (1 skipped)" in result.stdout
    users = all_users(data_dir)
    assert set(users) == {"amy", "bob"}
    assert users["amy"].display_name == "Amy"
    assert verify_password("first-password", users["amy"].password_hash)


def test_generated_passwords_need_credentials_out(data_dir: Path, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "users.csv", "nopass,无密码,student,JS01,\nwith,有密码,student,JS01,pass-word-1\n"
    )

    result = import_file(data_dir, source)

    assert result.exit_code == 1
    assert "--credentials-out" in result.stderr
    assert all_users(data_dir) == {}


def test_an_existing_credentials_file_is_never_overwritten(data_dir: Path, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "users.csv", "nopass,无密码,student,JS01,\n")
    earlier = tmp_path / "credentials.csv"
    earlier.write_text("username,password\nold,old-password\n")

    result = import_file(data_dir, source, "--credentials-out", str(earlier))

    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert earlier.read_text() == "username,password\nold,old-password\n"
    assert all_users(data_dir) == {}


# -- parsing ---------------------------------------------------------------------------------------


def test_parse_tracks_line_numbers_across_blank_lines_and_reports_bad_lines() -> None:
    data = (
        HEADER
        + "a1x,A,student,JS01,\n\n,,,,\n"
        + "b2x,B,teacher,JS01,secret-pw ,extra\n"
        + " c3x , C ,学生, JS01 , pw with spaces \n"
    ).encode()

    rows, errors = importing.parse_user_csv(data)

    assert errors == ["line 5: 6 fields but the header has 5"]
    assert [(row.line, row.username, row.display_name, row.school) for row in rows] == [
        (2, "a1x", "A", "JS01"),
        (6, "c3x", "C", "JS01"),
    ]
    assert rows[0].password is None
    assert rows[1].password == " pw with spaces "  # passwords are taken exactly as written


def test_parse_header_problems_and_undecodable_files() -> None:
    assert importing.parse_user_csv(b"") == (
        [],
        ["line 1: the file is empty; expected the header " + ",".join(importing.COLUMNS)],
    )
    _, errors = importing.parse_user_csv(b"username,name,role\nx,y,z\n")
    assert errors == [
        "line 1: unknown column(s) 'name'; expected username,display_name,role,school,password,class",
        "line 1: missing column(s) 'display_name'",
    ]
    _, errors = importing.parse_user_csv(b"\xff\xfe\x00\x80\xff")
    assert errors == ["line 1: the file is neither UTF-8 nor GBK/GB18030 text"]
    rows, errors = importing.parse_user_csv(b" Username , DISPLAY_NAME,role\nabc,A,teacher\n")
    assert errors == [] and rows[0].school == "" and rows[0].password is None


def test_decode_prefers_utf8_and_falls_back_to_gb18030() -> None:
    text = HEADER + "abc,张三,学生,金水区第一小学,\n"
    for encoding in ("utf-8", "utf-8-sig", "gbk", "gb18030"):
        assert importing.decode_csv_bytes(text.encode(encoding)) == text


# -- the functions against both databases ------------------------------------------------------------


def rows_from(body: str) -> list[importing.ImportRow]:
    rows, errors = importing.parse_user_csv((HEADER + body).encode())
    assert errors == []
    return rows


@pytest.mark.anyio
async def test_validate_and_import_without_the_cli(database: stacks.Database) -> None:
    async with database.sessionmaker() as session, session.begin():
        school = await make_school(session)
        await make_user(session, Role.teacher, school, username="Taken")
        rows = rows_from(
            f"new.one,新人,teacher,{school.code},new-password-1\n"
            "taken,重名,teacher,,short\n"
            f"lead,教研员,research_lead,{school.name},\n"
        )

        users, errors, skipped = await importing.validate_rows(session, rows, skip_existing=False)
        assert users == [] and skipped == 0
        assert errors == [
            "line 3: password must be 8 to 128 characters",
            "line 3: a teacher must belong to a school; school is empty",
            "line 4: a research_lead works across schools; leave school empty",
        ]

        rows = rows_from(
            f"new.one,新人,teacher,{school.code},new-password-1\ntaken,重名,teacher,{school.code},\n"
        )
        users, errors, skipped = await importing.validate_rows(session, rows, skip_existing=True)
        assert errors == [] and skipped == 1
        assert [(user.username, user.school_id, user.password_generated) for user in users] == [
            ("new.one", school.id, False)
        ]

        progress: list[int] = []
        assert await importing.import_users(session, users, on_progress=progress.append) == 1
        assert progress == [1]
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.school_id == school.id)
        )
        assert count == 2


@pytest.mark.anyio
async def test_import_refuses_names_taken_after_validation(database: stacks.Database) -> None:
    async with database.sessionmaker() as session, session.begin():
        school = await make_school(session)
        rows = rows_from(f"late,迟到,student,{school.code},late-password\n")
        users, errors, _ = await importing.validate_rows(session, rows, skip_existing=False)
        assert errors == []
        await make_user(session, Role.student, school, username="LATE")

        with pytest.raises(importing.ImportConflict, match="late"):
            await importing.import_users(session, users)


@pytest.mark.anyio
async def test_hash_passwords_keeps_order_and_reports_progress() -> None:
    progress: list[int] = []
    passwords = [f"password-{number}" for number in range(5)]

    hashes = await importing.hash_passwords(passwords, on_progress=progress.append, workers=2)

    assert progress == [1, 2, 3, 4, 5]
    assert all(verify_password(password, hashed) for password, hashed in zip(passwords, hashes, strict=True))


def test_generated_passwords_are_readable_and_random() -> None:
    passwords = {importing.generate_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(
        len(password) == 12 and set(password) <= set(importing.READABLE_ALPHABET) for password in passwords
    )
    assert not set("0O1lI") & set(importing.READABLE_ALPHABET)


def test_credentials_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    temporary = importing.write_credentials(target, [("abc", "Password-12x")])
    assert temporary.parent == tmp_path and not target.exists()
    assert stat.S_IMODE(temporary.stat().st_mode) == 0o600
    assert list(csv.reader(io.StringIO(temporary.read_text(encoding="utf-8")))) == [
        ["username", "password"],
        ["abc", "Password-12x"],
    ]
