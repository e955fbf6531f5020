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
import shutil
import statistics
import struct
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as a script, Python puts bench/ on the path, not the checkout that holds tests/.
    sys.path.insert(0, str(ROOT))

from storage.blobs.base import DEFAULT_PART_SIZE  # noqa: E402
from tests.live import (  # noqa: E402
    SERVER_VARIABLES,
    ApiProcess,
    SharedServers,
    Tenant,
    read_exports,
    run_cli,
    start_api,
    status_kib,
)

TESTINFRA_ENV = Path("/tmp/jiaoyun-testinfra/env.sh")

MIB = 1024 * 1024
CHUNK = MIB
BOUNDARY = "jiaoyun-bench-upload"
SECRET_KEY = "bench-secret-key-not-for-production"
PASSWORD = "bench-password-1"
METADATA = {"title": "bench", "resource_type": "lesson_record", "visibility": "school", "status": "draft"}
UPLOAD_TIMEOUT_S = 900.0
RSS_INTERVAL_S = 0.01


# -- the generated file ----------------------------------------------------------------------------


def file_head(size: int) -> bytes:
    """A real MP4 (so the API's type check passes) and the header of a ``free`` box filling up to size."""
    # Imported here, not above: search.py imports this module and has no use for PyAV and the rest.
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, all its threads included (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def minio_pid() -> int | None:
    """The shared MinIO's pid, when scripts/test-servers.sh recorded it (its CPU is shared with any
    other session using it, so it is a ceiling of what this upload cost it)."""
    for candidate in (
        Path("/tmp/jiaoyun-helpers/pids/minio.pid"),
        Path("/tmp/jiaoyun-testinfra/pids/minio.pid"),
    ):
        try:
            pid = int(candidate.read_text().strip())
        except (OSError, ValueError):
            continue
        if Path(f"/proc/{pid}/stat").exists():
            return pid
    return None


@dataclass(frozen=True)
class BenchServer:
    api: ApiProcess
    # The process holding the listening socket: the one whose memory is the API's.
    pid: int
    admin: str


def start_bench_server(label: str, workdir: Path, tag: str, tenant: Tenant | None) -> BenchServer:
    """`jiaoyun serve` with a district admin made by the CLI; on the tenant's servers when given.

    These settings are the only JIAOYUN_* variables the processes get (tests.live drops the caller's)."""
    settings = {
        "JIAOYUN_DATA_DIR": str(workdir / "data"),
        "JIAOYUN_SECRET_KEY": SECRET_KEY,
        # Processing the uploads (probing, posters) would compete with what is measured.
        "JIAOYUN_EMBEDDED_WORKER": "false",
    }
    if tenant is not None:
        settings |= tenant.env()
        asyncio.run(tenant.create_database())
    admin = f"bench-admin-{tag}"
    run_cli(settings, workdir, "admin", "create", "--username", admin, "--password", PASSWORD)
    api = start_api(settings, workdir, name="server")
    try:
        pid = api.listening_pid()
    except BaseException:
        api.stop()
        raise
    progress(f"{label}: server pid {pid} on port {api.port}")
    return BenchServer(api, pid, admin)


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
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    minio_cpu_s: float | None = None


def api_upload(client: httpx.Client, server_pid: int, token: str, body: MultipartBody) -> Upload:
    store = minio_pid()
    with RssSampler(server_pid) as rss:
        server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
        store_cpu = cpu_seconds(store) if store else 0.0
        started = time.perf_counter()
        response = client.post(
            "/api/v1/resources", content=iter(body), headers=body.headers(token), timeout=UPLOAD_TIMEOUT_S
        )
        seconds = time.perf_counter() - started
        server_cpu = cpu_seconds(server_pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        minio_cpu = cpu_seconds(store) - store_cpu if store else None
    resource = expect(response, 201)
    sizes = [file["size"] for version in resource["versions"] for file in version["files"]]
    if sizes != [body.size]:
        raise RuntimeError(f"the API stored {sizes} bytes, not {body.size}")
    return Upload(seconds, resource["id"], rss.baseline_kib, rss.peak_kib, server_cpu, client_cpu, minio_cpu)


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


def minio_put(
    client: Minio, bucket: str, key: str, head: bytes, size: int
) -> tuple[float, float, float | None]:
    """Same bytes with put_object, shaped like the API's store: 8 MiB parts sent one after another.
    Its wall seconds, this process's CPU seconds (SigV4 hashes every part over plain HTTP), MinIO's."""
    store = minio_pid()
    store_cpu = cpu_seconds(store) if store else 0.0
    client_cpu = time.process_time()
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
    seconds = time.perf_counter() - started
    return seconds, time.process_time() - client_cpu, (cpu_seconds(store) - store_cpu if store else None)


def sha256_seconds(head: bytes, size: int) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    for chunk in file_chunks(head, size):
        digest.update(chunk)
    return time.perf_counter() - started


# -- the servers of s3 mode ------------------------------------------------------------------------


def testinfra_servers() -> SharedServers:
    """The servers of scripts/test-servers.sh: JIAOYUN_TEST_* exported, or else from its env.sh."""
    found = {name: os.environ[name] for name in SERVER_VARIABLES if os.environ.get(name)}
    if len(found) < len(SERVER_VARIABLES) and TESTINFRA_ENV.is_file():
        for name, value in read_exports(TESTINFRA_ENV).items():
            found.setdefault(name, value)
    missing = [name for name in SERVER_VARIABLES if not found.get(name)]
    if missing:
        raise SystemExit(
            f"s3 mode needs {', '.join(missing)}: run `scripts/test-servers.sh start` "
            f"and `source {TESTINFRA_ENV}`"
        )
    return SharedServers(*(found[name] for name in SERVER_VARIABLES))


def remove_tenant(tenant: Tenant) -> None:
    """Everything of the tenant's, each part tried even when one before it fails."""
    best_effort(f"remove bucket {tenant.bucket}", tenant.remove_bucket)
    best_effort(f"remove indices {tenant.index_prefix}-*", tenant.remove_indices)
    best_effort(f"drop database {tenant.database}", lambda: asyncio.run(tenant.drop_database()))


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
    # direct minio: this process's CPU seconds and MinIO's, per run
    client_cpu: list[float] = field(default_factory=list)
    minio_cpu: list[float] = field(default_factory=list)

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
    tenant = Tenant(testinfra_servers(), tag, purpose="bench") if mode == "s3" else None
    server: BenchServer | None = None
    try:
        server = start_bench_server(mode, workdir, tag, tenant)
        api = Row(mode, "API upload", [], size)
        direct = Row(mode, "direct minio" if tenant is not None else "direct disk", [], size)
        minio = tenant.minio() if tenant is not None else None
        with httpx.Client(base_url=server.api.base_url, timeout=60) as client:
            token = create_teacher(client, sign_in(client, server.admin), tag)
            try:
                # Alternating, so a burst of load from elsewhere on the machine weighs on both paths.
                for run in range(1, runs + 1):
                    upload = api_upload(client, server.pid, token, MultipartBody(head, size))
                    api.uploads.append(upload)
                    api.seconds.append(upload.seconds)
                    progress(
                        f"{mode}: API upload {run}/{runs}: {upload.seconds:.2f} s, "
                        f"server CPU {upload.server_cpu_s:.2f} s, "
                        f"RSS {upload.baseline_kib / 1024:.0f} -> {upload.peak_kib / 1024:.0f} MiB"
                    )
                    if tenant is not None and minio is not None:
                        seconds, client_cpu, minio_cpu = minio_put(
                            minio, tenant.bucket, f"bench/direct-{run}", head, size
                        )
                        direct.client_cpu.append(client_cpu)
                        if minio_cpu is not None:
                            direct.minio_cpu.append(minio_cpu)
                    else:
                        seconds = disk_write(workdir / "direct.bin", head, size)
                    direct.seconds.append(seconds)
                    progress(f"{mode}: {direct.path} {run}/{runs}: {seconds:.2f} s")
                api.hwm_kib = status_kib(server.pid, "VmHWM")
            finally:
                for upload in api.uploads:
                    best_effort(
                        f"delete resource {upload.resource_id}",
                        functools.partial(delete_resource, client, token, upload.resource_id),
                    )
        api.reference = direct
        return [api, direct]
    finally:
        if server is not None:
            best_effort("stop the server", server.api.stop)
        if tenant is not None:
            remove_tenant(tenant)
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
    gib = size / (1024 * MIB)
    for row in rows:
        if row.uploads:
            server = statistics.median(u.server_cpu_s for u in row.uploads) / gib
            client = statistics.median(u.client_cpu_s for u in row.uploads) / gib
            stores = [u.minio_cpu_s for u in row.uploads if u.minio_cpu_s is not None]
            store = f", MinIO {statistics.median(stores) / gib:.2f}" if stores else ""
            lines.append(
                f"{row.mode}: CPU-seconds per GiB, API path: server {server:.2f}, client {client:.2f}{store}"
            )
        elif row.client_cpu:
            client = statistics.median(row.client_cpu) / gib
            store = f", MinIO {statistics.median(row.minio_cpu) / gib:.2f}" if row.minio_cpu else ""
            lines.append(f"{row.mode}: CPU-seconds per GiB, direct put_object: client {client:.2f}{store}")
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
