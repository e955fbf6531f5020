"""Building Jiaoyun's wheel the way the production image does: from exactly the files the Dockerfile
copies, in a directory outside the checkout (so nothing the checkout holds besides them can help)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]]


def dockerfile_stages(text: str | None = None) -> list[Stage]:
    """The Dockerfile's stages with their instructions (continuation lines joined, comments dropped)."""
    source = DOCKERFILE.read_text() if text is None else text
    joined = re.sub(r"\\\n", " ", source)
    stages: list[Stage] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = argument.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name, instructions=[]))
        elif stages:
            stages[-1].instructions.append((keyword, " ".join(argument.split())))
    return stages


def copied_sources(stage: Stage) -> list[str]:
    """What a stage's COPY instructions take from the build context (not from other stages)."""
    sources: list[str] = []
    for keyword, argument in stage.instructions:
        if keyword != "COPY" or argument.startswith("--from"):
            continue
        sources.extend(argument.split()[:-1])
    return sources


def build_stage() -> Stage:
    """The stage that runs `pip wheel`."""
    return next(
        stage
        for stage in dockerfile_stages()
        if any(keyword == "RUN" and "pip wheel" in argument for keyword, argument in stage.instructions)
    )


def build_wheel(workdir: Path) -> Path:
    """Copy what the Dockerfile's build stage copies into workdir/src, build the wheel there (in pip's
    isolated build environment, as the image does) and return its path."""
    source = workdir / "src"
    source.mkdir(parents=True)
    for name in copied_sources(build_stage()):
        origin = ROOT / name.rstrip("/")
        if origin.is_dir():
            shutil.copytree(origin, source / origin.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / origin.name)
    dist = workdir / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(source)],
        check=True,
        cwd=workdir,
    )
    (wheel,) = dist.glob("jiaoyun-*.whl")
    return wheel
