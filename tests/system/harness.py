"""Private real servers and real Jiaoyun processes, for the fault tests and the load benchmark.

`PrivateServers` runs scripts/test-servers.sh with a run directory and ports of its own, so stopping
one of its servers never disturbs the shared test servers or another run's. `Tenant` is one test's
database, bucket and index prefix on them. `ApiProcess` and `WorkerProcess` are `jiaoyun serve` and
`jiaoyun worker` as subprocesses in server mode, driven over HTTP like production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
from pydantic import SecretStr
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from search.documents import SearchDocument
from search.elastic import ElasticsearchSearchIndex
from services.context import AppContext, build_context
from services.settings import Settings
from storage.blobs.s3 import make_minio_client

ROOT = Path(__file__).resolve().parents[2]
SERVERS_SCRIPT = ROOT / "scripts" / "test-servers.sh"
# The venv's own console script: the subprocesses run the same interpreter and installed code.
JIAOYUN = Path(sys.executable).parent / "jiaoyun"
SECRET_KEY = "system-test-secret-key-not-for-production"
PASSWORD = "system-test-password-1"
READY_TIMEOUT_S = 120.0

ServerName = Literal["postgres", "minio", "elasticsearch", "versitygw"]

_PORT_KNOBS = (
    "JIAOYUN_TEST_PG_PORT",
    "JIAOYUN_TEST_MINIO_PORT",
    "JIAOYUN_TEST_MINIO_CONSOLE_PORT",
    "JIAOYUN_TEST_ES_PORT",
    "JIAOYUN_TEST_ES_TRANSPORT_PORT",
    "JIAOYUN_TEST_VERSITYGW_PORT",
)
_URL_VARIABLES = (
    "JIAOYUN_TEST_DATABASE_URL",
    "JIAOYUN_TEST_S3_ENDPOINT",
    "JIAOYUN_TEST_S3_ACCESS_KEY",
    "JIAOYUN_TEST_S3_SECRET_KEY",
    "JIAOYUN_TEST_ELASTICSEARCH_URL",
)


def free_ports(count: int) -> list[int]:
    """Distinct ports nothing listens on now (all bound at once, so no two are the same)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in sockets]


def read_exports(path: Path) -> dict[str, str]:
    exports: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            exports[name] = value
    return exports


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


@dataclass(frozen=True)
class SharedServers:
    """The servers of this test run (tests.backends): never stopped by anything here."""

    database_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    elasticsearch_url: str


@dataclass
class PrivateServers:
    """PostgreSQL, MinIO and Elasticsearch of this run's own, from scripts/test-servers.sh."""

    run_dir: Path
    ports: dict[str, int]
    exports: dict[str, str] = field(default_factory=dict)
    # How long each stop-server / start-server took, for the figures.
    timings: list[tuple[str, float]] = field(default_factory=list)

    @classmethod
    def start(cls) -> PrivateServers:
        run_dir = Path(tempfile.mkdtemp(prefix="jiaoyun-private-servers-", dir="/tmp"))
        # PostgreSQL and Elasticsearch run as the service user, which must traverse this directory.
        run_dir.chmod(0o755)
        servers = cls(run_dir, dict(zip(_PORT_KNOBS, free_ports(len(_PORT_KNOBS)), strict=True)))
        try:
            servers._script("start")
            servers.exports = read_exports(run_dir / "env.sh")
        except BaseException:
            servers.close()
            raise
        return servers

    def _script(self, *args: str) -> None:
        env = {name: value for name, value in os.environ.items() if name not in _URL_VARIABLES}
        env |= {name: str(port) for name, port in self.ports.items()}
        env["JIAOYUN_TESTINFRA_RUN"] = str(self.run_dir)
        log = self.run_dir / "test-servers.log"
        with log.open("ab") as output:
            result = subprocess.run(
                ["bash", str(SERVERS_SCRIPT), *args], env=env, stdout=output, stderr=output, check=False
            )
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise RuntimeError(f"test-servers.sh {' '.join(args)} failed ({result.returncode}):\n{tail}")

    def stop_server(self, name: ServerName) -> float:
        started = time.monotonic()
        self._script("stop-server", name)
        seconds = time.monotonic() - started
        self.timings.append((f"stop {name}", seconds))
        return seconds

    def start_server(self, name: ServerName) -> float:
        started = time.monotonic()
        self._script("start-server", name)
        seconds = time.monotonic() - started
        self.timings.append((f"start {name}", seconds))
        return seconds

    @property
    def database_url(self) -> str:
        return self.exports["JIAOYUN_TEST_DATABASE_URL"]

    @property
    def s3_endpoint(self) -> str:
        return self.exports["JIAOYUN_TEST_S3_ENDPOINT"]

    @property
    def s3_access_key(self) -> str:
        return self.exports["JIAOYUN_TEST_S3_ACCESS_KEY"]

    @property
    def s3_secret_key(self) -> str:
        return self.exports["JIAOYUN_TEST_S3_SECRET_KEY"]

    @property
    def elasticsearch_url(self) -> str:
        return self.exports["JIAOYUN_TEST_ELASTICSEARCH_URL"]

    @property
    def versitygw_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['JIAOYUN_TEST_VERSITYGW_PORT']}"

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._script("stop")
        shutil.rmtree(self.run_dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def outage(servers: PrivateServers, name: ServerName) -> AsyncIterator[None]:
    """The server is down inside the block, and started again (on its data) however the block ends."""
    await asyncio.to_thread(servers.stop_server, name)
    try:
        yield
    finally:
        await asyncio.to_thread(servers.start_server, name)


async def _execute_autocommit(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@dataclass
class Tenant:
    """One test's database, bucket and index prefix on the servers."""

    servers: Servers
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def database(self) -> str:
        return f"jiaoyun_{self.tag}"

    @property
    def bucket(self) -> str:
        return f"jiaoyun-{self.tag}"

    @property
    def index_prefix(self) -> str:
        return f"jiaoyun-{self.tag}"

    @property
    def database_url(self) -> str:
        url = make_url(self.servers.database_url).set(database=self.database)
        return url.render_as_string(hide_password=False)

    def env(self) -> dict[str, str]:
        """JIAOYUN_* for the Jiaoyun processes: server mode, no in-process worker, one fixed key."""
        return {
            "JIAOYUN_DATABASE_URL": self.database_url,
            "JIAOYUN_S3_ENDPOINT": self.servers.s3_endpoint,
            "JIAOYUN_S3_ACCESS_KEY": self.servers.s3_access_key,
            "JIAOYUN_S3_SECRET_KEY": self.servers.s3_secret_key,
            "JIAOYUN_S3_BUCKET": self.bucket,
            "JIAOYUN_ELASTICSEARCH_URL": self.servers.elasticsearch_url,
            "JIAOYUN_SEARCH_INDEX_PREFIX": self.index_prefix,
            "JIAOYUN_SECRET_KEY": SECRET_KEY,
            "JIAOYUN_EMBEDDED_WORKER": "false",
            "JIAOYUN_WORKER_POLL_INTERVAL_S": "0.2",
        }

    def settings(self, data_dir: Path) -> Settings:
        return Settings(
            data_dir=data_dir,
            database_url=self.database_url,
            s3_endpoint=self.servers.s3_endpoint,
            s3_access_key=self.servers.s3_access_key,
            s3_secret_key=SecretStr(self.servers.s3_secret_key),
            s3_bucket=self.bucket,
            elasticsearch_url=self.servers.elasticsearch_url,
            search_index_prefix=self.index_prefix,
            secret_key=SecretStr(SECRET_KEY),
            embedded_worker=False,
        )

    async def create(self) -> None:
        await _execute_autocommit(self.servers.database_url, f'CREATE DATABASE "{self.database}"')

    async def drop(self) -> None:
        await _execute_autocommit(
            self.servers.database_url, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'
        )
        await asyncio.to_thread(self._remove_bucket)
        async with httpx.AsyncClient(base_url=self.servers.elasticsearch_url, timeout=30) as client:
            response = await client.delete(f"/{self.index_prefix}-*", params={"expand_wildcards": "all"})
            response.raise_for_status()

    def _remove_bucket(self) -> None:
        client = make_minio_client(
            self.servers.s3_endpoint, self.servers.s3_access_key, self.servers.s3_secret_key, "us-east-1"
        )
        if not client.bucket_exists(self.bucket):
            return
        for item in client.list_objects(self.bucket, recursive=True):
            client.remove_object(self.bucket, str(item.object_name))
        for upload in client._list_multipart_uploads(self.bucket).uploads:
            client._abort_multipart_upload(self.bucket, upload.object_name, str(upload.upload_id))
        client.remove_bucket(self.bucket)

    def incomplete_multipart_uploads(self) -> int:
        client = make_minio_client(
            self.servers.s3_endpoint, self.servers.s3_access_key, self.servers.s3_secret_key, "us-east-1"
        )
        return len(client._list_multipart_uploads(self.bucket).uploads)

    @contextlib.asynccontextmanager
    async def context(self, data_dir: Path) -> AsyncIterator[AppContext]:
        """The product's own clients on this tenant, for looking at rows, blobs and the index."""
        context = build_context(self.settings(data_dir))
        try:
            yield context
        finally:
            await context.close()


# -- Jiaoyun processes -----------------------------------------------------------------------------


def process_env(tenant_env: Mapping[str, str]) -> dict[str, str]:
    # Only what the tenant sets: a JIAOYUN_* variable of the caller's would change the stack under test.
    env = {name: value for name, value in os.environ.items() if not name.startswith("JIAOYUN_")}
    return env | dict(tenant_env)


def status_kib(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {name}")


def run_cli(env: Mapping[str, str], workdir: Path, *args: str) -> str:
    result = subprocess.run(
        [str(JIAOYUN), *args], env=process_env(env), cwd=workdir, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"jiaoyun {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


@dataclass
class JiaoyunProcess:
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
        with self.log_path.open("ab") as log:
            # Own session: a Ctrl-C meant for the test reaches only it, and its cleanup stops this.
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
        return "\n".join(self.log_text().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine or the OOM killer takes it."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class ApiProcess(JiaoyunProcess):
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"the API exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/readyz").status_code == 200:
                        return
                time.sleep(0.2)
        raise RuntimeError(f"/readyz not 200 after {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")


def start_api(env: Mapping[str, str], workdir: Path) -> ApiProcess:
    port = free_ports(1)[0]
    api = ApiProcess(["serve", "--port", str(port)], dict(env), workdir, "api", port=port)
    api.start()
    try:
        api.wait_ready()
    except BaseException:
        api.stop()
        raise
    return api


def start_worker(env: Mapping[str, str], workdir: Path, name: str = "worker") -> JiaoyunProcess:
    worker = JiaoyunProcess(["worker"], dict(env), workdir, name)
    worker.start()
    return worker


# -- the API as a client sees it -------------------------------------------------------------------


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise AssertionError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} "
            f"(wanted {status}): {response.text[:500]}"
        )
    return response.json() if response.content else None


async def sign_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {expect(response, 200)['access_token']}"}


@dataclass(frozen=True)
class People:
    admin: dict[str, str]
    teachers: list[dict[str, str]]
    school_id: str


async def populate(client: httpx.AsyncClient, env: Mapping[str, str], workdir: Path, teachers: int) -> People:
    """A district admin (made with the CLI, as an installation starts), a school and its teachers."""
    tag = uuid.uuid4().hex[:6]
    await asyncio.to_thread(
        run_cli, env, workdir, "admin", "create", "--username", f"admin-{tag}", "--password", PASSWORD
    )
    admin = await sign_in(client, f"admin-{tag}")
    school = expect(
        await client.post("/api/v1/schools", json={"name": f"实验学校 {tag}", "code": tag}, headers=admin),
        201,
    )
    signed_in = []
    for number in range(teachers):
        username = f"teacher-{tag}-{number}"
        user = {
            "username": username,
            "display_name": f"教师{number}",
            "password": PASSWORD,
            "role": "teacher",
            "school_id": school["id"],
        }
        expect(await client.post("/api/v1/users", json=user, headers=admin), 201)
        signed_in.append(await sign_in(client, username))
    return People(admin, signed_in, school["id"])


# -- the index against the database ----------------------------------------------------------------


async def database_documents(context: AppContext) -> dict[str, SearchDocument]:
    """Every document the database says the index should hold, built by the indexer's own code."""
    from services.indexing.service import DOCUMENT_SOURCES, REINDEX_BATCH

    documents: dict[str, SearchDocument] = {}
    async with context.sessionmaker() as session:
        for source in DOCUMENT_SOURCES:
            async for batch in source(session, REINDEX_BATCH):
                for document in batch:
                    assert document.id not in documents, f"{document.id} built twice"
                    documents[document.id] = document
    return documents


async def indexed_documents(index: ElasticsearchSearchIndex) -> tuple[dict[str, SearchDocument], int]:
    """Every document in the live index, and how many ES holds (duplicates would make them differ)."""
    await index.refresh()
    documents: dict[str, SearchDocument] = {}
    total = await index.count()
    after: list[Any] | None = None
    while True:
        page = await index.client.search(
            index=index.alias,
            query={"match_all": {}},
            sort=[{"id": "asc"}],
            size=1000,
            source_includes=["source"],
            search_after=after,
        )
        hits = page["hits"]["hits"]
        if not hits:
            return documents, total
        for hit in hits:
            documents[hit["_id"]] = SearchDocument.model_validate(hit["_source"]["source"])
        after = hits[-1]["sort"]


async def wait_for(
    condition: Any, *, timeout_s: float, interval_s: float = 0.5, what: str = "the condition"
) -> float:
    """Await ``condition()`` until it is true; how long that took. Fails after timeout_s."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what} not reached within {timeout_s:.0f} s")
        await asyncio.sleep(interval_s)
    return time.monotonic() - started


def iter_status_lines(log: str) -> Iterator[tuple[str, int]]:
    """(request line, status) from uvicorn's access log: what the server answered, even to a client
    that could no longer read the answer."""
    for line in log.splitlines():
        if '" ' not in line or "HTTP/1.1" not in line:
            continue
        request, _, rest = line.rpartition('" ')
        status = rest.split(" ", 1)[0]
        if status.isdigit():
            yield request.split('"', 1)[-1], int(status)
