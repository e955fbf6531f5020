"""The child-process runner: answers come back, and time, memory and crashes cost only the child."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from services.jobs import isolation
from services.jobs.isolation import ChildLimits

pytestmark = pytest.mark.anyio

LIMITS = ChildLimits(timeout_s=30, memory_mb=1024)


class Refused(Exception):
    pass


def echo(value: object) -> object:
    return {"echo": value}


def refuse(message: str) -> None:
    raise Refused(message)


def hang(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


def hoard(megabytes: int) -> int:
    chunks = [bytearray(1024 * 1024) for _ in range(megabytes)]
    return len(chunks)


def wrapped_hoard(megabytes: int) -> int:
    """A reader that catches everything and says "damaged": the memory limit must still show."""
    try:
        return hoard(megabytes)
    except Exception as exc:
        raise Refused("The file is damaged") from exc


def segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def limits_seen() -> list[int]:
    import resource

    return list(resource.getrlimit(resource.RLIMIT_AS))


async def test_a_function_runs_in_a_child_and_its_answer_comes_back() -> None:
    assert await isolation.run_in_child(echo, ["中文", 1], limits=LIMITS, task="Echo") == {
        "echo": ["中文", 1]
    }
    assert await isolation.run_in_child(limits_seen, limits=LIMITS, task="Limits") == [1024 * 1024 * 1024] * 2


async def test_an_expected_error_comes_back_with_its_message() -> None:
    with pytest.raises(isolation.ChildRaised, match="not a PDF"):
        await isolation.run_in_child(refuse, "not a PDF", limits=LIMITS, task="Reading", expected=(Refused,))
    # Not expected: a bug, reported as the child failing, never its raw message.
    with pytest.raises(isolation.ChildCrashed, match="exit status 1"):
        await isolation.run_in_child(refuse, "internal detail", limits=LIMITS, task="Reading")


async def test_a_child_over_its_memory_limit_fails_alone() -> None:
    small = ChildLimits(timeout_s=30, memory_mb=600)
    with pytest.raises(isolation.ChildOutOfMemory, match="Reading the file needed more than 600 MB"):
        await isolation.run_in_child(hoard, 800, limits=small, task="Reading the file")
    with pytest.raises(isolation.ChildOutOfMemory):
        await isolation.run_in_child(wrapped_hoard, 800, limits=small, task="Reading", expected=(Refused,))
    # The same work within the limit goes through: it was the limit, not the work.
    assert await isolation.run_in_child(hoard, 50, limits=small, task="Reading") == 50


async def test_a_hanging_child_is_killed_at_its_time_limit(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(isolation.ChildTimedOut, match="Reading took longer than 1 s and was stopped"):
        await isolation.run_in_child(hang, str(pid_file), limits=ChildLimits(1, 1024), task="Reading")
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


async def test_a_crashing_child_is_reported_not_fatal() -> None:
    with pytest.raises(isolation.ChildCrashed, match="SIGSEGV"):
        await isolation.run_in_child(segfault, limits=LIMITS, task="Reading")
    assert await isolation.run_in_child(echo, 1, limits=LIMITS, task="Echo") == {"echo": 1}


async def test_a_command_gets_the_same_limits(tmp_path: Path) -> None:
    import sys

    hoarding = "x = [bytearray(1024 * 1024) for _ in range(800)]"
    with pytest.raises(isolation.ChildOutOfMemory, match="600 MB"):
        await isolation.run_command(
            [sys.executable, "-c", hoarding], limits=ChildLimits(30, 600), task="Work"
        )
    assert await isolation.run_command(["echo", "hi"], limits=LIMITS, task="Work") == b"hi\n"


def hoard_and_log(megabytes: int) -> str:
    """A reader that logs the failure and answers "could not be read" as if the file were at fault."""
    import logging

    try:
        hoard(megabytes)
    except Exception:
        logging.getLogger("reader").info("could not read", exc_info=True)
        return "could not be read"
    return "read"


async def test_a_memory_error_a_reader_swallowed_still_counts_as_out_of_memory() -> None:
    small = ChildLimits(timeout_s=30, memory_mb=600)
    with pytest.raises(isolation.ChildOutOfMemory):
        await isolation.run_in_child(hoard_and_log, 800, limits=small, task="Reading")
    assert await isolation.run_in_child(hoard_and_log, 50, limits=small, task="Reading") == "read"
