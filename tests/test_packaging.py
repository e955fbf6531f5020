"""What `pip install` and the production image get: the wheel's files, and the Dockerfile around it.

The wheel is built as the image builds it (tests/wheel.py); scripts/test then installs it into a
clean venv and starts it (tests/wheel_smoke.py). No Docker engine is needed for either; what that
leaves unchecked is listed in the README.
"""

from __future__ import annotations

import re
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tests.wheel import ROOT, build_stage, build_wheel, copied_sources, dockerfile_stages

PACKAGES = ("services", "search", "storage")


def source_files() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if not name.startswith("jiaoyun-")}


def test_the_wheel_ships_every_file_of_the_packages(wheel_files: set[str]) -> None:
    # Templates, static files and migrations included: `jiaoyun serve` cannot start without them.
    assert {"services/web/templates/base.html", "services/web/static/app.css"} <= wheel_files
    assert "storage/migrations/versions/0001_identity_and_jobs.py" in wheel_files
    assert sorted(source_files() - wheel_files) == []
    assert not any(name.startswith("tests/") for name in wheel_files)


def test_the_image_is_built_on_a_python_the_project_supports() -> None:
    requires = SpecifierSet(str(pyproject()["project"]["requires-python"]))  # type: ignore[index]
    for stage in dockerfile_stages():
        found = re.fullmatch(r"python:(\d+\.\d+)(?:\.\d+)?(?:-[a-z0-9.-]+)?", stage.base)
        assert found, f"base image {stage.base} is not an official python image with its version"
        assert found.group(1) + ".0" in requires, f"{stage.base} vs requires-python {requires}"
    assert {stage.base for stage in dockerfile_stages()} == {dockerfile_stages()[-1].base}


def test_the_image_installs_exactly_the_wheel_its_build_stage_made() -> None:
    stages = dockerfile_stages()
    builder, final = build_stage(), stages[-1]
    assert builder is not final and builder.name
    wheel_dir = re.search(r"pip wheel .*--wheel-dir (\S+) \.$", dict(builder.instructions)["RUN"])
    assert wheel_dir, "the build stage runs `pip wheel --no-deps --wheel-dir DIR .`"
    assert "--no-deps" in dict(builder.instructions)["RUN"]
    copies = [argument for keyword, argument in final.instructions if keyword == "COPY"]
    # The final stage takes nothing from the checkout: only the built wheel.
    assert copies == [f"--from={builder.name} {wheel_dir.group(1)}/ {wheel_dir.group(1)}/"]
    installs = [argument for keyword, argument in final.instructions if "pip install" in argument]
    assert len(installs) == 1 and f"pip install {wheel_dir.group(1)}/jiaoyun-*.whl" in installs[0]
    assert ("CMD", '["jiaoyun", "serve", "--host", "0.0.0.0", "--port", "8000"]') in final.instructions
    assert "jiaoyun" in pyproject()["project"]["scripts"]  # type: ignore[index]


def test_the_build_stage_copies_what_the_wheel_needs_and_nothing_ignored() -> None:
    copied = {name.rstrip("/") for name in copied_sources(build_stage())}
    assert copied == {"pyproject.toml", "README.md", *PACKAGES}
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for name in copied:
        assert (ROOT / name).exists()
        assert name not in ignored
    # The readme pyproject names is among the copies (setuptools fails without it).
    assert pyproject()["project"]["readme"] in copied  # type: ignore[index]


def test_dockerfile_parsing_joins_continuations_and_names_stages() -> None:
    stages = dockerfile_stages("FROM python:3.12-slim AS build\nRUN a \\\n  b\n# note\nFROM python:3.12\n")
    names = [(stage.base, stage.name) for stage in stages]
    assert names == [("python:3.12-slim", "build"), ("python:3.12", None)]
    assert stages[0].instructions == [("RUN", "a b")]
    assert Path(ROOT / "Dockerfile").is_file()
