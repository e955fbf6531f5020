"""Upload throughput and server memory: the real API beside a direct write of the same bytes.

    .venv/bin/python bench/upload.py [--size-mb 200] [--runs 3] [--mode embedded|s3|both]

Each mode starts `jiaoyun serve` as a subprocess, signs in a teacher through the API and uploads a
generated lesson recording (a real MP4 head padded with a ``free`` box, made on the fly) as a streamed
multipart request, sampling the server's resident memory meanwhile. The same bytes are then written
without the API: with the `minio` client in s3 mode, to a local file in embedded mode. Figures only.

s3 mode needs the servers of scripts/test-servers.sh: their JIAOYUN_TEST_* variables, exported or
read from /tmp/jiaoyun-testinfra/env.sh. It works in a fresh database, bucket and index prefix of its
own and removes them at the end, so it neither sees nor disturbs a concurrent test run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, cast

import httpx
from minio import Minio
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.blobs.base import DEFAULT_PART_SIZE
from storage.blobs.s3 import make_minio_client

ROOT = Path(__file__).resolve().parent.parent
# The venv's own console script, so the server runs the same interpreter and installed code.
JIAOYUN = Path(sys.executable).parent / "jiaoyun"
TESTINFRA_ENV = Path("/tmp/jiaoyun-testinfra/env.sh")

MIB = 1024 * 1024
CHUNK = MIB
BOUNDARY = "jiaoyun-bench-upload"
SECRET_KEY = "bench-secret-key-not-for-production"
PASSWORD = "bench-password-1"
METADATA = {"title": "bench", "resource_type": "lesson_record", "visibility": "school", "status": "draft"}
READY_TIMEOUT_S = 120.0
UPLOAD_TIMEOUT_S = 900.0
RSS_INTERVAL_S = 0.01


# -- the generated file ----------------------------------------------------------------------------


def file_head(size: int) -> bytes:
    """A real MP4 (so the API's type check passes) and the header of a ``free`` box filling up to size."""
    if str(ROOT) not in sys.path:
        # Run as a script, Python puts bench/ on the path, not the checkout that holds tests/.
        sys.path.insert(0, str(ROOT))
    from tests import samples

    video = samples.mp4_bytes(duration_s=1.0)
    padding = size - len(video)
    if padding < 16:
        raise SystemExit(f"--size-mb is too small: the MP4 head alone is {len(video)} bytes")
    if padding < 2**32:
        return video + struct.pack(">I", padding) + b"free"
    # Boxes of 4 GiB or more carry their size in a 64-bit field after the type.
    return video + struct.pack(">I", 1) + b"free" + struct.pack(">Q", padding)


def file_chunks(head: bytes, size: int) -> Iterator[bytes]:
    yield head
    remaining = size - len(head)
    zeros = bytes(CHUNK)
    while remaining:
        length = min(CHUNK, remaining)
        yield zeros if length == CHUNK else zeros[:length]
        remaining -= length


class ChunkReader:
    """``read(n)`` over a chunk iterator, for clients that pull bytes instead of taking an iterable."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if not self._pending:
                chunk = next(self._chunks, b"")
                if not chunk:
                    break
                self._pending = memoryview(chunk)
            take = len(self._pending) if size < 0 else size - len(out)
            out += self._pending[:take]
            self._pending = self._pending[take:]
        return bytes(out)


@dataclass(frozen=True)
class MultipartBody:
    """The request body of POST /api/v1/resources, streamed; its length is known up front."""

    head: bytes
    size: int
    metadata: str = json.dumps(METADATA)
    filename: str = "bench.mp4"

    @property
    def prefix(self) -> bytes:
        return (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{self.metadata}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{self.filename}"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()

    @property
    def suffix(self) -> bytes:
        return f"\r\n--{BOUNDARY}--\r\n".encode()

    def headers(self, token: str) -> dict[str, str]:
        # An explicit length, as browsers send for forms; without it httpx would fall back to chunked.
        length = len(self.prefix) + self.size + len(self.suffix)
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length),
        }

    def __iter__(self) -> Iterator[bytes]:
        yield self.prefix
        yield from file_chunks(self.head, self.size)
        yield self.suffix


# -- the server process ----------------------------------------------------------------------------


def status_kib(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {name}")


class RssSampler:
    """Samples a process's VmRSS every ~10 ms while the block runs: baseline before, peak during."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline_kib = 0
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(RSS_INTERVAL_S):
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))

    def __enter__(self) -> RssSampler:
        self.baseline_kib = self.peak_kib = status_kib(self.pid, "VmRSS")
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
    found, todo = [], [pid]
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
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    pid: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.log_tail()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        self.pid = listening_pid(self.process.pid, self.port)
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise RuntimeError(f"/readyz not 200 after {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        # Own session: a Ctrl-C meant for the bench reaches only it, and its cleanup stops the server.
        process = subprocess.Popen(
            [str(JIAOYUN), "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log_path)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


# -- the API ---------------------------------------------------------------------------------------


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        request = response.request
        raise RuntimeError(
            f"{request.method} {request.url.path}: {response.status_code} (wanted {status}): "
            f"{response.text[:500]}"
        )
    return response.json() if response.content else None


def sign_in(client: httpx.Client, username: str) -> str:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    token: str = expect(response, 200)["access_token"]
    return token


def create_teacher(client: httpx.Client, admin_token: str, tag: str) -> str:
    """A school and a teacher in it, through the API as the district admin; the teacher's token."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    school = expect(
        client.post("/api/v1/schools", json={"name": f"基准学校 {tag}", "code": tag}, headers=auth), 201
    )
    username = f"bench-teacher-{tag}"
    teacher = {
        "username": username,
        "display_name": "基准教师",
        "password": PASSWORD,
        "role": "teacher",
        "school_id": school["id"],
    }
    expect(client.post("/api/v1/users", json=teacher, headers=auth), 201)
    return sign_in(client, username)


def delete_resource(client: httpx.Client, token: str, resource_id: str) -> None:
    response = client.delete(f"/api/v1/resources/{resource_id}", headers={"Authorization": f"Bearer {token}"})
    expect(response, 204)


@dataclass(frozen=True)
class Upload:
    seconds: float
    resource_id: str
    baseline_kib: int
    peak_kib: int


def api_upload(client: httpx.Client, server: Server, token: str, body: MultipartBody) -> Upload:
    with RssSampler(server.pid) as rss:
        started = time.perf_counter()
        response = client.post(
            "/api/v1/resources", content=iter(body), headers=body.headers(token), timeout=UPLOAD_TIMEOUT_S
        )
        seconds = time.perf_counter() - started
    resource = expect(response, 201)
    sizes = [file["size"] for version in resource["versions"] for file in version["files"]]
    if sizes != [body.size]:
        raise RuntimeError(f"the API stored {sizes} bytes, not {body.size}")
    return Upload(seconds, resource["id"], rss.baseline_kib, rss.peak_kib)


# -- direct writes ---------------------------------------------------------------------------------


def disk_write(path: Path, head: bytes, size: int) -> float:
    """Same bytes to a local file, without fsync: the local blob store does not fsync either."""
    started = time.perf_counter()
    with path.open("wb") as target:
        for chunk in file_chunks(head, size):
            target.write(chunk)
    seconds = time.perf_counter() - started
    path.unlink()
    return seconds


def minio_put(client: Minio, bucket: str, key: str, head: bytes, size: int) -> float:
    """Same bytes with put_object, shaped like the API's store: 8 MiB parts sent one after another."""
    started = time.perf_counter()
    client.put_object(
        bucket,
        key,
        # put_object only ever calls read(): the rest of BinaryIO is never used.
        cast(BinaryIO, ChunkReader(file_chunks(head, size))),
        size,
        content_type="video/mp4",
        part_size=DEFAULT_PART_SIZE,
        num_parallel_uploads=1,
    )
    return time.perf_counter() - started


def sha256_seconds(head: bytes, size: int) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    for chunk in file_chunks(head, size):
        digest.update(chunk)
    return time.perf_counter() - started


# -- the servers of s3 mode ------------------------------------------------------------------------


def testinfra_variables() -> dict[str, str]:
    names = (
        "JIAOYUN_TEST_DATABASE_URL",
        "JIAOYUN_TEST_S3_ENDPOINT",
        "JIAOYUN_TEST_S3_ACCESS_KEY",
        "JIAOYUN_TEST_S3_SECRET_KEY",
        "JIAOYUN_TEST_ELASTICSEARCH_URL",
    )
    found = {name: os.environ[name] for name in names if os.environ.get(name)}
    if len(found) < len(names) and TESTINFRA_ENV.is_file():
        for line in TESTINFRA_ENV.read_text().splitlines():
            words = shlex.split(line, comments=True)
            if len(words) == 2 and words[0] == "export" and "=" in words[1]:
                name, value = words[1].split("=", 1)
                found.setdefault(name, value)
    missing = [name for name in names if not found.get(name)]
    if missing:
        raise SystemExit(
            f"s3 mode needs {', '.join(missing)}: run `scripts/test-servers.sh start` "
            f"and `source {TESTINFRA_ENV}`"
        )
    return found


async def _execute_autocommit(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@dataclass
class S3Stack:
    """PostgreSQL + MinIO + Elasticsearch, with a database, bucket and index prefix of this run's own."""

    servers: dict[str, str]
    tag: str
    created_database: bool = False

    @property
    def database(self) -> str:
        return f"jiaoyun_bench_{self.tag}"

    @property
    def bucket(self) -> str:
        return f"jiaoyun-bench-{self.tag}"

    @property
    def index_prefix(self) -> str:
        return f"jiaoyun-bench-{self.tag}"

    @property
    def database_url(self) -> str:
        url = make_url(self.servers["JIAOYUN_TEST_DATABASE_URL"]).set(database=self.database)
        return url.render_as_string(hide_password=False)

    def env(self) -> dict[str, str]:
        return {
            "JIAOYUN_DATABASE_URL": self.database_url,
            "JIAOYUN_S3_ENDPOINT": self.servers["JIAOYUN_TEST_S3_ENDPOINT"],
            "JIAOYUN_S3_ACCESS_KEY": self.servers["JIAOYUN_TEST_S3_ACCESS_KEY"],
            "JIAOYUN_S3_SECRET_KEY": self.servers["JIAOYUN_TEST_S3_SECRET_KEY"],
            "JIAOYUN_S3_BUCKET": self.bucket,
            "JIAOYUN_ELASTICSEARCH_URL": self.servers["JIAOYUN_TEST_ELASTICSEARCH_URL"],
            "JIAOYUN_SEARCH_INDEX_PREFIX": self.index_prefix,
        }

    def minio(self) -> Minio:
        # The API's own client factory: same connection pool and retry settings on both paths.
        return make_minio_client(
            self.servers["JIAOYUN_TEST_S3_ENDPOINT"],
            self.servers["JIAOYUN_TEST_S3_ACCESS_KEY"],
            self.servers["JIAOYUN_TEST_S3_SECRET_KEY"],
            "us-east-1",
        )

    def create_database(self) -> None:
        # A database of its own: test sessions drop and recreate the shared one's schema on start.
        asyncio.run(
            _execute_autocommit(
                self.servers["JIAOYUN_TEST_DATABASE_URL"], f'CREATE DATABASE "{self.database}"'
            )
        )
        self.created_database = True

    def drop_database(self) -> None:
        if self.created_database:
            asyncio.run(
                _execute_autocommit(
                    self.servers["JIAOYUN_TEST_DATABASE_URL"],
                    f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)',
                )
            )

    def remove_bucket(self) -> None:
        client = self.minio()
        if not client.bucket_exists(self.bucket):
            return
        for item in client.list_objects(self.bucket, recursive=True):
            client.remove_object(self.bucket, item.object_name)
        # An interrupted upload leaves parts that keep the bucket from being removed.
        for upload in client._list_multipart_uploads(self.bucket).uploads:
            client._abort_multipart_upload(self.bucket, upload.object_name, str(upload.upload_id))
        client.remove_bucket(self.bucket)

    def remove_indices(self) -> None:
        with httpx.Client(base_url=self.servers["JIAOYUN_TEST_ELASTICSEARCH_URL"], timeout=30) as client:
            response = client.get(f"/{self.index_prefix}-*", params={"expand_wildcards": "all"})
            names = [name for name in expect(response, 200) if name.startswith(f"{self.index_prefix}-")]
            for name in names:
                expect(client.delete(f"/{name}"), 200)


# -- one mode --------------------------------------------------------------------------------------


@dataclass
class Row:
    mode: str
    path: str
    seconds: list[float]
    size: int
    reference: Row | None = None
    uploads: list[Upload] = field(default_factory=list)
    hwm_kib: int = 0

    def rates(self) -> list[float]:
        return [self.size / MIB / seconds for seconds in self.seconds]

    @property
    def median(self) -> float:
        return statistics.median(self.rates())

    @property
    def best(self) -> float:
        return max(self.rates())


def best_effort(what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except Exception as exc:
        print(f"  cleanup: could not {what}: {exc}", file=sys.stderr)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_mode(mode: str, size: int, runs: int, head: bytes) -> list[Row]:
    tag = uuid.uuid4().hex[:10]
    workdir = Path(tempfile.mkdtemp(prefix=f"jiaoyun-bench-{mode}-"))
    stack = S3Stack(testinfra_variables(), tag) if mode == "s3" else None
    # Only what this mode sets: a JIAOYUN_* variable of the caller's would change the stack under test.
    env = {name: value for name, value in os.environ.items() if not name.startswith("JIAOYUN_")}
    env |= {
        "JIAOYUN_DATA_DIR": str(workdir / "data"),
        "JIAOYUN_SECRET_KEY": SECRET_KEY,
        # Processing the uploads (probing, posters) would compete with the uploads measured.
        "JIAOYUN_EMBEDDED_WORKER": "false",
    }
    server: Server | None = None
    try:
        if stack is not None:
            env |= stack.env()
            stack.create_database()
        admin = f"bench-admin-{tag}"
        subprocess.run(
            [str(JIAOYUN), "admin", "create", "--username", admin, "--password", PASSWORD],
            env=env,
            cwd=workdir,
            check=True,
            capture_output=True,
        )
        server = start_server(env, workdir)
        progress(f"{mode}: server pid {server.pid} on port {server.port}")
        api = Row(mode, "API upload", [], size)
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            token = create_teacher(client, sign_in(client, admin), tag)
            try:
                for run in range(1, runs + 1):
                    upload = api_upload(client, server, token, MultipartBody(head, size))
                    api.uploads.append(upload)
                    api.seconds.append(upload.seconds)
                    progress(
                        f"{mode}: API upload {run}/{runs}: {upload.seconds:.2f} s, "
                        f"RSS {upload.baseline_kib / 1024:.0f} -> {upload.peak_kib / 1024:.0f} MiB"
                    )
                api.hwm_kib = status_kib(server.pid, "VmHWM")
            finally:
                for upload in api.uploads:
                    best_effort(
                        f"delete resource {upload.resource_id}",
                        functools.partial(delete_resource, client, token, upload.resource_id),
                    )

        if stack is not None:
            direct = Row(mode, "direct minio", [], size)
            minio = stack.minio()
            for run in range(1, runs + 1):
                seconds = minio_put(minio, stack.bucket, f"bench/direct-{run}", head, size)
                direct.seconds.append(seconds)
                progress(f"{mode}: direct minio {run}/{runs}: {seconds:.2f} s")
        else:
            direct = Row(mode, "direct disk", [], size)
            for run in range(1, runs + 1):
                seconds = disk_write(workdir / "direct.bin", head, size)
                direct.seconds.append(seconds)
                progress(f"{mode}: direct disk {run}/{runs}: {seconds:.2f} s")
        api.reference = direct
        return [api, direct]
    finally:
        if server is not None:
            best_effort("stop the server", server.stop)
        if stack is not None:
            best_effort(f"remove bucket {stack.bucket}", stack.remove_bucket)
            best_effort(f"remove indices {stack.index_prefix}-*", stack.remove_indices)
            best_effort(f"drop database {stack.database}", stack.drop_database)
        shutil.rmtree(workdir, ignore_errors=True)


# -- output ----------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = [
        f"{'mode':<10}{'path':<16}{'MB/s (median)':>14}{'MB/s (best)':>13}{'ratio':>8}   "
        "server RSS base/peak/growth (MiB)"
    ]
    for row in rows:
        ratio = f"{row.median / row.reference.median:.2f}" if row.reference is not None else "ref"
        rss = "-"
        if row.uploads:
            baseline = row.uploads[0].baseline_kib
            peak = max(upload.peak_kib for upload in row.uploads)
            rss = f"{baseline / 1024:.0f}/{peak / 1024:.0f}/{(peak - baseline) / 1024:.0f}"
        lines.append(f"{row.mode:<10}{row.path:<16}{row.median:>14.1f}{row.best:>13.1f}{ratio:>8}   {rss}")
    return "\n".join(lines)


def details(rows: list[Row], head: bytes, size: int) -> str:
    lines = []
    for row in rows:
        if not row.uploads:
            continue
        growths = ", ".join(f"{(u.peak_kib - u.baseline_kib) / 1024:.0f}" for u in row.uploads)
        lines.append(
            f"{row.mode}: server VmHWM {row.hwm_kib / 1024:.0f} MiB (since start); "
            f"RSS growth per run (MiB): {growths}"
        )
    lines.append(
        f"sha256 of the same stream in this process (the API hashes on the way in): "
        f"{size / MIB / sha256_seconds(head, size):.0f} MB/s"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=200, help="file size in MiB (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="uploads per path (default 3)")
    parser.add_argument("--mode", choices=["embedded", "s3", "both"], default="both")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    size = args.size_mb * MIB
    head = file_head(size)
    modes = ["s3", "embedded"] if args.mode == "both" else [args.mode]
    rows: list[Row] = []
    for mode in modes:
        rows += run_mode(mode, size, args.runs, head)

    print(f"\n{args.size_mb} MiB file, {args.runs} runs per path, {os.cpu_count()} CPUs (MB = 2^20 bytes)")
    print(table(rows))
    print(details(rows, head, size))


if __name__ == "__main__":
    main()
