"""Private real servers and what the fault tests do with them.

`PrivateServers` runs scripts/test-servers.sh with a run directory and ports of its own, so stopping
one of its servers never disturbs the shared test servers or another run's. `Tenant` is one test's
database, bucket and index prefix on them, with the settings the fault tests run Jiaoyun with. The
processes themselves (`jiaoyun serve`, `jiaoyun worker`) are tests.live's, driven over HTTP like
production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from search.documents import SearchDocument
from search.elastic import ElasticsearchSearchIndex
from services.context import AppContext, build_context
from services.settings import Settings
from tests import live
from tests.live import SERVER_VARIABLES, free_ports, read_exports, run_cli

ROOT = Path(__file__).resolve().parents[2]
SERVERS_SCRIPT = ROOT / "scripts" / "test-servers.sh"
SECRET_KEY = "system-test-secret-key-not-for-production"
PASSWORD = "system-test-password-1"

ServerName = Literal["postgres", "minio", "elasticsearch", "versitygw"]

_PORT_KNOBS = (
    "JIAOYUN_TEST_PG_PORT",
    "JIAOYUN_TEST_MINIO_PORT",
    "JIAOYUN_TEST_MINIO_CONSOLE_PORT",
    "JIAOYUN_TEST_ES_PORT",
    "JIAOYUN_TEST_ES_TRANSPORT_PORT",
    "JIAOYUN_TEST_VERSITYGW_PORT",
)


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
        env = {name: value for name, value in os.environ.items() if name not in SERVER_VARIABLES}
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


@dataclass
class Tenant(live.Tenant):
    """One test's database, bucket and index prefix on the servers, and how the fault tests run
    Jiaoyun on it: server mode, no in-process worker, one fixed key, a worker that polls often."""

    def env(self) -> dict[str, str]:
        return super().env() | {
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

    def incomplete_multipart_uploads(self) -> int:
        return len(self.minio()._list_multipart_uploads(self.bucket).uploads)

    @contextlib.asynccontextmanager
    async def context(self, data_dir: Path) -> AsyncIterator[AppContext]:
        """The product's own clients on this tenant, for looking at rows, blobs and the index."""
        context = build_context(self.settings(data_dir))
        try:
            yield context
        finally:
            await context.close()


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
