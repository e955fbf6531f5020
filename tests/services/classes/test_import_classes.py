"""Classes from files: `jiaoyun users import` with a class column, and the teachers' class–subject import."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from services.classes.importing import parse_class_name
from services.classes.service import current_school_year
from services.cli import app
from services.settings import Settings
from storage.database import create_engine, create_sessionmaker
from storage.models.classes import ClassStudent, ClassTeacher, SchoolClass
from storage.models.identity import User
from tests.factories import make_school

runner = CliRunner()
T = TypeVar("T")


def _env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JIAOYUN_")}
    env["JIAOYUN_DATA_DIR"] = str(data_dir)
    return env


def _in_database(data_dir: Path, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(Settings(data_dir=data_dir, database_url="").resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    assert runner.invoke(app, ["migrate"], env=_env(directory)).exit_code == 0

    async def add_school(session: AsyncSession) -> None:
        await make_school(session, name="金水区实验小学", code="JSSY")

    _in_database(directory, add_school)
    return directory


def test_class_names_as_schools_write_them() -> None:
    assert parse_class_name("一年级五班") == (1, 5)
    assert parse_class_name("七年级（2）班") == (7, 2)
    assert parse_class_name("高一3班") == (10, 3)
    assert parse_class_name("二年级十二班") == (2, 12)
    assert parse_class_name("1-5") == (1, 5)
    for bad in ("五班", "13-1", "一年级", "1年级100班"):
        with pytest.raises(ValueError):
            parse_class_name(bad)


def test_students_go_into_classes_and_teachers_are_assigned(data_dir: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text(
        "username,display_name,role,school,password,class\n"
        "stu1,小红,学生,JSSY,pass-word-1,一年级五班\n"
        "stu2,小明,学生,JSSY,pass-word-1,1-5\n"
        "stu3,小刚,学生,JSSY,pass-word-1,一年级六班\n"
        "stu4,小丽,学生,JSSY,pass-word-1,\n"
        "tea1,王老师,教师,JSSY,pass-word-1,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["users", "import", str(users)], env=_env(data_dir))
    assert result.exit_code == 0, result.output

    teachings = tmp_path / "teachers.csv"
    teachings.write_text(
        "username,class,subject\ntea1,一年级五班,语文\ntea1,一年级六班,数学\n", encoding="gbk"
    )
    result = runner.invoke(app, ["classes", "import-teachers", str(teachings)], env=_env(data_dir))
    assert result.exit_code == 0, result.output
    assert "imported 2 class–subject assignments (2 new)" in result.stdout

    async def check(session: AsyncSession) -> None:
        classes = {
            (item.grade, item.number): item for item in (await session.scalars(select(SchoolClass))).all()
        }
        assert set(classes) == {(1, 5), (1, 6)}
        assert {item.school_year for item in classes.values()} == {current_school_year()}
        names = {user.id: user.username for user in (await session.scalars(select(User))).all()}
        members = {
            (names[row.student_id], row.class_id)
            for row in (await session.scalars(select(ClassStudent))).all()
        }
        assert members == {
            ("stu1", classes[(1, 5)].id),
            ("stu2", classes[(1, 5)].id),
            ("stu3", classes[(1, 6)].id),
        }
        taught = {(row.class_id, row.subject) for row in (await session.scalars(select(ClassTeacher))).all()}
        assert taught == {(classes[(1, 5)].id, "语文"), (classes[(1, 6)].id, "数学")}

    _in_database(data_dir, check)


def test_bad_rows_import_nothing(data_dir: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text(
        "username,display_name,role,school,password,class\n"
        "stu1,小红,学生,JSSY,pass-word-1,五班\n"
        "tea1,王老师,教师,JSSY,pass-word-1,一年级五班\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["users", "import", str(users)], env=_env(data_dir))
    assert result.exit_code == 1
    assert "line 2: '五班' is not a class name" in result.output
    assert "line 3: only students go in a class" in result.output

    teachings = tmp_path / "teachers.csv"
    teachings.write_text("username,class,subject\nnobody,一年级五班,语文\n", encoding="utf-8")
    result = runner.invoke(app, ["classes", "import-teachers", str(teachings)], env=_env(data_dir))
    assert result.exit_code == 1 and "line 2: no user 'nobody'" in result.output
