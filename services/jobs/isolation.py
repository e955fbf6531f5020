"""Running work on untrusted input in a child process, under a wall-clock and a memory limit.

Decoders and document readers run on whatever a teacher's machine (or an attacker) uploaded. A file
that makes them crash, hang, loop for hours or allocate without end must cost one child process,
never the worker, nor the API process that hosts the embedded worker. Every such child gets:

- a wall-clock limit: it is killed (SIGKILL) when it outlives it, or when its caller is cancelled;
- a memory limit: RLIMIT_AS (its address space) is set in the child before it touches the file,
  so allocations beyond it fail there (MemoryError, or a library giving up) instead of growing the
  machine into the OOM killer;
- death with its parent (PR_SET_PDEATHSIG on Linux), so a SIGKILLed worker leaves no reader behind.

Two ways in. `run_in_child(function, *args)` runs a module-level Python function in a child forked
from a fork server (multiprocessing's "forkserver"), which imports the modules named with
`preload()` once: a child then starts in milliseconds instead of re-importing the libraries for
every file. Arguments go down pickled (our own data); the answer comes back as JSON, so a child
whose reader was subverted by a file cannot hand its parent anything but data. `run_command(argv)`
runs a program (e.g. a codec binary) under the same limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import functools
import json
import logging
import multiprocessing
import os
import resource
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

logger = logging.getLogger(__name__)

# What a child may answer with (page texts are bounded far below this).
MAX_ANSWER_BYTES = 128 * 1024 * 1024
# A child that ran out of memory exits with this status (no allocation needed to say so).
OUT_OF_MEMORY_EXIT = 86
# How long a child that answered, or was killed, may take to be reaped.
_REAP_TIMEOUT_S = 10.0
_REPORTED_STDERR = 2000
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChildLimits:
    timeout_s: float
    # The child's address space in MiB (RLIMIT_AS); 0 means no limit.
    memory_mb: int

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024


class ChildFailed(Exception):
    """The child gave no answer; the message says why in words fit to show on the file."""


class ChildTimedOut(ChildFailed):
    pass


class ChildOutOfMemory(ChildFailed):
    pass


class ChildCrashed(ChildFailed):
    pass


class ChildRaised(ChildFailed):
    """The function raised one of the exceptions the caller expects; its message is carried."""


def timed_out(task: str, limits: ChildLimits) -> ChildTimedOut:
    return ChildTimedOut(f"{task} took longer than {limits.timeout_s:g} s and was stopped")


def out_of_memory(task: str, limits: ChildLimits) -> ChildOutOfMemory:
    return ChildOutOfMemory(f"{task} needed more than {limits.memory_mb} MB of memory and was stopped")


def crashed(task: str, exit_code: int | None) -> ChildCrashed:
    code = exit_code or 0
    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    return ChildCrashed(f"{task} failed: the reader stopped on it ({how})")


# -- in the child ------------------------------------------------------------------------------------


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once (before a fork: a child of a threaded process must not dlopen)."""
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: no parent-death signal, the time limit remains
        return None
    return function


def limit_child(memory_bytes: int) -> None:
    """First thing in a child: die with the parent, and cap the address space."""
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _caused_by_memory(error: BaseException | None) -> bool:
    """Libraries wrap what went wrong (a reader catching Exception); MemoryError may sit in the chain."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, MemoryError) or (isinstance(error, OSError) and error.errno == errno.ENOMEM):
            return True
        # libxml2 (lxml, so python-docx/pptx) reports a failed allocation as a parse error.
        if "memory allocation failed" in str(error).lower():
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


class _FailureWatch(logging.Handler):
    """Notices the errors a reader caught and logged before turning them into its own ("the file is
    damaged"), so that running out of memory is reported as such, whatever the reader says."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.failed = False
        self.out_of_memory = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.failed = True
            self.out_of_memory = self.out_of_memory or _caused_by_memory(record.exc_info[1])


def _reached(memory_bytes: int) -> bool:
    """Whether this process's address space has come within 5% of the limit (libxml2, for one,
    reports a failed allocation only as "unknown error": the peak tells)."""
    if memory_bytes <= 0:
        return False
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024 >= memory_bytes * 0.95
    except OSError:
        pass
    return False


def _child_main(
    answer: Connection,
    memory_bytes: int,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    expected: tuple[type[Exception], ...],
) -> None:
    limit_child(memory_bytes)
    watch = _FailureWatch()
    logging.getLogger().addHandler(watch)
    logging.getLogger().setLevel(logging.INFO)
    try:
        payload: dict[str, Any] = {"value": function(*args)}
        if watch.out_of_memory or (watch.failed and _reached(memory_bytes)):
            raise MemoryError("a reader ran out of memory and carried on")
    except BaseException as exc:
        if _caused_by_memory(exc) or _reached(memory_bytes):
            sys.stderr.write(f"isolated child: out of memory in {function.__qualname__}\n")
            sys.stderr.flush()
            os._exit(OUT_OF_MEMORY_EXIT)
        if not isinstance(exc, expected):
            raise  # multiprocessing prints the traceback to stderr and exits with status 1
        payload = {"error": str(exc)}
    try:
        data = json.dumps(payload, ensure_ascii=False).encode()
    except MemoryError:
        os._exit(OUT_OF_MEMORY_EXIT)
    answer.send_bytes(data)
    answer.close()


# -- in the parent -----------------------------------------------------------------------------------

_PRELOAD: list[str] = []
_fork_server: ForkServerContext | None = None


def preload(module: str) -> None:
    """Have the fork server import ``module`` once for all children (name it before the first child)."""
    if module not in _PRELOAD:
        _PRELOAD.append(module)


def _context() -> ForkServerContext:
    global _fork_server
    if _fork_server is None:
        context = multiprocessing.get_context("forkserver")
        assert isinstance(context, ForkServerContext)
        context.set_forkserver_preload(list(_PRELOAD))
        _fork_server = context
    return _fork_server


def _receive(connection: Connection) -> bytes | None:
    try:
        return connection.recv_bytes(MAX_ANSWER_BYTES)
    except (EOFError, OSError):
        return None  # died without answering, or answered too much: its exit status tells


async def run_in_child(
    function: Callable[..., Any],
    *args: Any,
    limits: ChildLimits,
    task: str,
    expected: tuple[type[Exception], ...] = (),
) -> Any:
    """``function(*args)`` in a child under ``limits``; its JSON-able return value.

    ``function`` must be importable by name (module level) and its result JSON-able. One of the
    ``expected`` exceptions comes back as ChildRaised with its message; anything else, or a crash,
    as ChildCrashed; running out of time or memory as ChildTimedOut / ChildOutOfMemory. ``task``
    names the work in those messages ("Reading the document").
    """
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child_main,
        args=(sender, limits.memory_bytes, function, args, expected),
        daemon=True,
        name=f"isolated:{getattr(function, '__qualname__', function)}",
    )
    try:
        # Blocks while the fork server starts (the first time: it imports the preloaded modules).
        await asyncio.to_thread(process.start)
    finally:
        sender.close()
    receiving = asyncio.ensure_future(asyncio.to_thread(_receive, receiver))
    try:
        try:
            data = await asyncio.wait_for(asyncio.shield(receiving), limits.timeout_s)
        except TimeoutError as exc:
            raise timed_out(task, limits) from exc
    finally:
        # Timed out, cancelled, or done: the child must not outlive its caller.
        if process.exitcode is None:
            with contextlib.suppress(ProcessLookupError, AttributeError, ValueError):
                process.kill()
        # The read ends once the child's end of the pipe closes, i.e. when it exits.
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(receiving), _REAP_TIMEOUT_S)
        exit_code = await _reap(process)
        receiver.close()
    if data is None:
        if exit_code == OUT_OF_MEMORY_EXIT:
            raise out_of_memory(task, limits)
        raise crashed(task, exit_code)
    answer = json.loads(data)
    if "error" in answer:
        raise ChildRaised(str(answer["error"]))
    return answer["value"]


async def _reap(process: BaseProcess) -> int | None:
    await asyncio.to_thread(process.join, _REAP_TIMEOUT_S)
    exit_code = process.exitcode
    if exit_code is None:
        logger.warning("isolated child %s did not exit after SIGKILL", process.pid)
    else:
        process.close()
    return exit_code


async def run_command(argv: list[str], *, limits: ChildLimits, task: str) -> bytes:
    """A program to its end under ``limits``; its standard output. ChildTimedOut if it outlives the
    time limit (it is killed), ChildOutOfMemory / ChildCrashed if it fails."""
    _prctl()  # resolved here, so that the child between fork and exec only calls it
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Between fork and exec: the limits are the child's, inherited by what it execs.
        preexec_fn=lambda: limit_child(limits.memory_bytes),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), limits.timeout_s)
    except BaseException as exc:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        if isinstance(exc, TimeoutError):
            raise timed_out(task, limits) from exc
        raise
    if process.returncode != 0:
        logger.warning(
            "isolated command %s exited %s: %s",
            argv[0],
            process.returncode,
            stderr[-_REPORTED_STDERR:].decode(errors="replace"),
        )
        if process.returncode == OUT_OF_MEMORY_EXIT or b"MemoryError" in stderr[-_REPORTED_STDERR:]:
            raise out_of_memory(task, limits)
        raise crashed(task, process.returncode)
    return stdout
