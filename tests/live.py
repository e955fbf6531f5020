"""Live Jiaoyun: real `jiaoyun` subprocesses and tenants of their own on real servers.

One harness for everything that runs the product as production does instead of in-process: the
benches (bench/), the browser tests (tests/web), the fault tests (tests/system) and the tests of
`jiaoyun serve` itself. `ApiProcess` is `jiaoyun serve` on a free port, ready once /readyz answers 200;
`JiaoyunProcess` any other command (the worker). `Tenant` is a database, bucket and index prefix of
one's own on shared or private servers, and the JIAOYUN_* variables that point a process at them.
`execute_autocommit` runs the DDL (CREATE/DROP DATABASE) a transaction may not hold.

No pytest in here: the benches import it as plain Python.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from minio import Minio
from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.blobs.s3 import make_minio_client

# The venv's own console script: the subprocesses run the same interpreter and installed code.
JIAOYUN = Path(sys.executable).parent / "jiaoyun"
READY_TIMEOUT_S = 120.0
# How long a process has to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 30.0

T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """Distinct ports nothing listens on now (all bound at once, so no two are the same)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in sockets]


def read_exports(path: Path) -> dict[str, str]:
    """The `export NAME=value` lines of a shell file such as scripts/test-servers.sh's env.sh."""
    exports: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            exports[name] = value
    return exports


# -- DDL outside transactions ----------------------------------------------------------------------


async def execute_autocommit(url: str | URL, statement: str) -> None:
    """One statement in autocommit mode: PostgreSQL runs CREATE/DROP DATABASE in no transaction."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def run_in_new_loop(work: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to its end from synchronous code, in a thread and event loop of its own.

    asyncio.run() refuses to start where this thread already runs a loop, as it does where session
    fixtures are first requested from async tests and under Playwright's sync API."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


# -- tenants on the servers ------------------------------------------------------------------------


class Servers(Protocol):
    """Where PostgreSQL, S3 and Elasticsearch are: private ones, or the shared test servers."""

    @property
    def database_url(self) -> str: ...
    @property
    def s3_endpoint(self) -> str: ...
    @property
    def s3_access_key(self) -> str: ...
    @property
    def s3_secret_key(self) -> str: ...
    @property
    def elasticsearch_url(self) -> str: ...


# Where scripts/test-servers.sh says its servers are, in the order of SharedServers' fields.
SERVER_VARIABLES = (
    "JIAOYUN_TEST_DATABASE_URL",
    "JIAOYUN_TEST_S3_ENDPOINT",
    "JIAOYUN_TEST_S3_ACCESS_KEY",
    "JIAOYUN_TEST_S3_SECRET_KEY",
    "JIAOYUN_TEST_ELASTICSEARCH_URL",
)


@dataclass(frozen=True)
class SharedServers:
    """Servers someone else runs (the JIAOYUN_TEST_* ones): never stopped by anything here."""

    database_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    elasticsearch_url: str


@dataclass
class Tenant:
    """A database, bucket and index prefix of one's own on the servers.

    Test sessions drop the shared test database's schema when they start, and a tenant's rows must
    not show up in their listings either: nothing of it is shared, and dropping it touches nothing else.
    Names are jiaoyun[_purpose]_<tag> (database) and jiaoyun[-purpose]-<tag> (bucket, index prefix).
    """

    servers: Servers
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    # Says whose it is in the names, e.g. "bench", so a leftover can be traced to what made it.
    purpose: str = ""
    # Only a database this tenant created is dropped: a failed create must not fail the cleanup too.
    created_database: bool = False

    def _name(self, separator: str) -> str:
        return separator.join(word for word in ("jiaoyun", self.purpose, self.tag) if word)

    @property
    def database(self) -> str:
        return self._name("_")

    @property
    def bucket(self) -> str:
        return self._name("-")

    @property
    def index_prefix(self) -> str:
        return self._name("-")

    @property
    def database_url(self) -> str:
        url = make_url(self.servers.database_url).set(database=self.database)
        return url.render_as_string(hide_password=False)

    def env(self) -> dict[str, str]:
        """The JIAOYUN_* variables that point a Jiaoyun process at this tenant."""
        return {
            "JIAOYUN_DATABASE_URL": self.database_url,
            "JIAOYUN_S3_ENDPOINT": self.servers.s3_endpoint,
            "JIAOYUN_S3_ACCESS_KEY": self.servers.s3_access_key,
            "JIAOYUN_S3_SECRET_KEY": self.servers.s3_secret_key,
            "JIAOYUN_S3_BUCKET": self.bucket,
            "JIAOYUN_ELASTICSEARCH_URL": self.servers.elasticsearch_url,
            "JIAOYUN_SEARCH_INDEX_PREFIX": self.index_prefix,
        }

    def minio(self) -> Minio:
        # The API's own client factory: the same connection pool and retry settings as the product.
        return make_minio_client(
            self.servers.s3_endpoint, self.servers.s3_access_key, self.servers.s3_secret_key, "us-east-1"
        )

    async def create_database(self) -> None:
        await execute_autocommit(self.servers.database_url, f'CREATE DATABASE "{self.database}"')
        self.created_database = True

    async def drop_database(self) -> None:
        if self.created_database:
            await execute_autocommit(
                self.servers.database_url, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'
            )

    def remove_bucket(self) -> None:
        """The bucket with everything in it; the product creates it on start, so it may not exist."""
        client = self.minio()
        if not client.bucket_exists(self.bucket):
            return
        for item in client.list_objects(self.bucket, recursive=True):
            client.remove_object(self.bucket, str(item.object_name))
        # An interrupted upload leaves parts that keep the bucket from being removed.
        for upload in client._list_multipart_uploads(self.bucket).uploads:
            client._abort_multipart_upload(self.bucket, upload.object_name, str(upload.upload_id))
        client.remove_bucket(self.bucket)

    def remove_indices(self) -> None:
        """Every index under the prefix (versioned indices behind the alias, old ones included), each
        by its name: Elasticsearch may refuse to delete by wildcard (action.destructive_requires_name)."""
        with httpx.Client(base_url=self.servers.elasticsearch_url, timeout=30) as client:
            found = _expect_ok(client.get(f"/{self.index_prefix}-*", params={"expand_wildcards": "all"}))
            for name in found.json():
                if name.startswith(f"{self.index_prefix}-"):
                    _expect_ok(client.delete(f"/{name}"))

    async def create(self) -> None:
        await self.create_database()

    async def drop(self) -> None:
        # The database first: WITH (FORCE) also ends the connections of processes still running.
        await self.drop_database()
        await asyncio.to_thread(self.remove_bucket)
        await asyncio.to_thread(self.remove_indices)


def _expect_ok(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        request = response.request
        raise RuntimeError(
            f"{request.method} {request.url.path}: {response.status_code} (wanted 200): {response.text[:500]}"
        )
    return response


# -- Jiaoyun processes -----------------------------------------------------------------------------


def process_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with the given JIAOYUN_* settings and no other: a JIAOYUN_* variable
    of the caller's would change the stack under test."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("JIAOYUN_")}
    return env | dict(settings)


def run_cli(env: Mapping[str, str], workdir: Path, *args: str) -> str:
    """`jiaoyun ARGS` to its end; its standard output. Fails with its error output."""
    result = subprocess.run(
        [str(JIAOYUN), *args], env=process_env(env), cwd=workdir, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"jiaoyun {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def status_kib(pid: int, name: str) -> int:
    """A memory figure of /proc/PID/status in KiB, e.g. VmRSS (resident now) or VmHWM (its peak)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {name}")


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{inode}]")
    return inodes


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses; the fields after the last ")" do not.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def listening_pid(root: int, port: int) -> int:
    """The process holding the listening socket: `jiaoyun serve` itself, or a uvicorn child of it."""
    inodes = _listening_inodes(port)
    for pid in [root, *_descendants(root)]:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) in inodes:
                    return pid
            except OSError:
                continue
    raise RuntimeError(f"no process under pid {root} listens on port {port}")


@dataclass
class JiaoyunProcess:
    """`jiaoyun ARGS` as a subprocess, its output in WORKDIR/NAME.log."""

    args: list[str]
    env: dict[str, str]
    workdir: Path
    name: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        # Appended to: a process started again under the same name keeps the log of its first run.
        with self.log_path.open("ab") as log:
            # Own session: a Ctrl-C meant for the caller reaches only it, and its cleanup stops this.
            self.process = subprocess.Popen(
                [str(JIAOYUN), *self.args],
                env=process_env(self.env),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_kib(self) -> int:
        return status_kib(self.pid, "VmRSS")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine or the OOM killer takes it."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, for a graceful shutdown; SIGKILL if it has not exited within STOP_TIMEOUT_S."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class ApiProcess(JiaoyunProcess):
    """`jiaoyun serve` on a port of 127.0.0.1."""

    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def listening_pid(self) -> int:
        """The process that serves the requests, whose memory is the API's."""
        return listening_pid(self.pid, self.port)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    assert self.process is not None
                    exited = f"jiaoyun {' '.join(self.args)} exited ({self.process.returncode})"
                    raise RuntimeError(f"{exited}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/readyz").status_code == 200:
                        return
                time.sleep(0.2)
        raise RuntimeError(f"/readyz not 200 after {timeout_s:.0f} s:\n{self.log_tail()}")


def start_api(
    env: Mapping[str, str],
    workdir: Path,
    *,
    port: int | None = None,
    name: str = "api",
    ready_timeout_s: float = READY_TIMEOUT_S,
) -> ApiProcess:
    """`jiaoyun serve` with these JIAOYUN_* settings, once it is ready; stopped again if it never is.

    ``port`` is for settings that name it (JIAOYUN_PUBLIC_BASE_URL); a free one otherwise."""
    if port is None:
        port = free_ports(1)[0]
    api = ApiProcess(["serve", "--port", str(port)], dict(env), workdir, name, port=port)
    api.start()
    try:
        api.wait_ready(ready_timeout_s)
    except BaseException:
        api.stop()
        raise
    return api


def start_worker(env: Mapping[str, str], workdir: Path, name: str = "worker") -> JiaoyunProcess:
    worker = JiaoyunProcess(["worker"], dict(env), workdir, name)
    worker.start()
    return worker
