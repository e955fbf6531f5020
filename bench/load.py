"""Loopback load test: concurrent searchers and uploaders against a real API and worker, bounded in time.

    .venv/bin/python bench/load.py [--duration 120] [--warmup 0] [--searchers 50] [--uploaders 5] [--seed 300]

Starts private PostgreSQL, MinIO and Elasticsearch (scripts/test-servers.sh with a run directory and
ports of its own, so no shared test server is touched), one `jiaoyun serve` and one `jiaoyun worker`
in server mode, seeds --seed resources (a PDF each, text extracted and indexed by the worker), then
for --duration seconds runs --searchers users searching and --uploaders users uploading, each in a
closed loop (the next request as soon as the last one is answered; every request times out after
30 s). Prints throughput, p50/p95/p99 latency and errors per kind of request, and the API's and the
worker's resident memory over the run. Figures only: nothing is asserted. With --warmup N the same
load runs N seconds first, not counted: the servers were started a minute before, and a search
engine node compiles its hot paths and merges its first small segments in its first minutes.

Everything runs on this machine, so the client's CPU competes with the servers'; the figures say how
busy the machine was before the run started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as a script, Python puts bench/ on the path, not the checkout that holds tests/.
    sys.path.insert(0, str(ROOT))

from services.indexing.service import pending_index_changes  # noqa: E402
from services.jobs.repository import JobRepository  # noqa: E402
from tests import samples  # noqa: E402
from tests.factories import resource_metadata, upload_form  # noqa: E402
from tests.live import ApiProcess, JiaoyunProcess, free_ports, start_worker  # noqa: E402
from tests.system.harness import PrivateServers, Tenant, expect, populate, wait_for  # noqa: E402

REQUEST_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 120.0
RSS_INTERVAL_S = 1.0
# Words teachers search for; each seeded title and page holds some of them.
WORDS = [
    "树和喜鹊",
    "小蝌蚪找妈妈",
    "识字",
    "拼音",
    "古诗",
    "认识钟表",
    "分数",
    "乘法口诀",
    "春天",
    "阅读",
    "写作",
    "实验",
    "光合作用",
    "勾股定理",
    "英语单词",
    "课后练习",
]
SUBJECTS = ["语文", "数学", "英语", "科学"]
UPLOAD_BYTES = 1024 * 1024


@dataclass
class Kind:
    name: str
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def record(self, started: float, outcome: str | None) -> None:
        if outcome is None:
            self.latencies_s.append(time.perf_counter() - started)
        else:
            self.errors[outcome] = self.errors.get(outcome, 0) + 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def cpu_busy_fraction(seconds: float) -> float:
    """How busy all CPUs were over the next ``seconds`` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle

    total_before, idle_before = sample()
    time.sleep(seconds)
    total_after, idle_after = sample()
    total = total_after - total_before
    return 1 - (idle_after - idle_before) / total if total else 0.0


def padded_pdf(number: int) -> bytes:
    words = random.Random(number).sample(WORDS, 3)
    pdf = samples.pdf_bytes([f"第{number}份 {' '.join(words)}"])
    # A comment after %%EOF: still a valid PDF, and the size of a typical scanned handout.
    return pdf + b"\n%" + b"x" * (UPLOAD_BYTES - len(pdf))


def seeded_metadata(number: int) -> dict[str, object]:
    words = random.Random(number).sample(WORDS, 2)
    return resource_metadata(
        title=f"{words[0]} {words[1]} 第{number}课时",
        resource_type="lesson_plan",
        subject=SUBJECTS[number % len(SUBJECTS)],
        visibility="district",
    )


async def seed(client: httpx.AsyncClient, teachers: list[dict[str, str]], count: int) -> None:
    slots = asyncio.Semaphore(8)

    async def one(number: int) -> None:
        async with slots:
            files = upload_form(seeded_metadata(number), f"{number}.pdf", padded_pdf(number))
            expect(
                await client.post("/api/v1/resources", files=files, headers=teachers[number % len(teachers)]),
                201,
            )

    await asyncio.gather(*(one(number) for number in range(count)))


@dataclass
class Run:
    client: httpx.AsyncClient
    teachers: list[dict[str, str]]
    deadline: float
    search: Kind = field(default_factory=lambda: Kind("search"))
    upload: Kind = field(default_factory=lambda: Kind("upload"))

    async def _loop(self, kind: Kind, call: Callable[[int], Awaitable[httpx.Response]], ok: int) -> None:
        step = 0
        while time.monotonic() < self.deadline:
            step += 1
            started = time.perf_counter()
            try:
                response = await call(step)
            except httpx.TransportError as exc:
                kind.record(started, type(exc).__name__)
                continue
            kind.record(started, None if response.status_code == ok else str(response.status_code))

    async def searcher(self, number: int) -> None:
        auth = self.teachers[number % len(self.teachers)]
        chooser = random.Random(number)

        def call(step: int) -> Awaitable[httpx.Response]:
            params: dict[str, str] = {"q": chooser.choice(WORDS)}
            if step % 3 == 0:
                params["subject"] = chooser.choice(SUBJECTS)
            return self.client.get("/api/v1/search", params=params, headers=auth)

        await self._loop(self.search, call, 200)

    async def uploader(self, number: int) -> None:
        auth = self.teachers[number % len(self.teachers)]

        def call(step: int) -> Awaitable[httpx.Response]:
            serial = 1_000_000 + number * 10_000 + step
            files = upload_form(seeded_metadata(serial), "handout.pdf", padded_pdf(serial))
            return self.client.post("/api/v1/resources", files=files, headers=auth)

        await self._loop(self.upload, call, 201)


async def sample_rss(processes: dict[str, JiaoyunProcess], until: float, into: dict[str, list[int]]) -> None:
    while time.monotonic() < until:
        for name, process in processes.items():
            into.setdefault(name, []).append(process.rss_kib())
        await asyncio.sleep(RSS_INTERVAL_S)


def report(kind: Kind, seconds: float) -> str:
    count = len(kind.latencies_s)
    errors = sum(kind.errors.values())
    if not count:
        return f"{kind.name:<8}{0:>9}{0:>10.1f}{'-':>9}{'-':>9}{'-':>9}{errors:>8}  {kind.errors or ''}"
    p50, p95, p99 = (percentile(kind.latencies_s, q) * 1000 for q in (0.50, 0.95, 0.99))
    detail = f"  {kind.errors}" if kind.errors else ""
    rate = count / seconds
    return f"{kind.name:<8}{count:>9}{rate:>10.1f}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}{errors:>8}{detail}"


def cpu_line(api_cpu: float, es_cpu: float, seconds: float, run: Run) -> str:
    """CPU spent during the load, per search: uploads are in the API's share too (5 uploaders of 1 MiB
    cost little beside 50 searchers), so this is an upper bound of a search's cost."""
    searches = max(len(run.search.latencies_s), 1)
    return (
        f"CPU during the load: API {api_cpu:.1f} s ({api_cpu / seconds:.2f} CPUs), Elasticsearch "
        f"{es_cpu:.1f} s ({es_cpu / seconds:.2f} CPUs); per search (uploads included): API "
        f"{api_cpu * 1000 / searches:.1f} ms, Elasticsearch {es_cpu * 1000 / searches:.1f} ms"
    )


def accounting_line(machine_cpu: float, api_cpu: float, es_cpu: float, es_jit: float, run: Run) -> str:
    """Where the machine's CPU went: a JVM started minutes ago still compiles its hot paths, which a
    node serving for days has long done, so Elasticsearch's compiler threads are shown apart."""
    searches = max(len(run.search.latencies_s), 1)
    rest = machine_cpu - api_cpu - es_cpu
    return (
        f"machine CPU during the load: {machine_cpu:.1f} s = {machine_cpu * 1000 / searches:.1f} ms per "
        f"search; of Elasticsearch's {es_cpu:.1f} s, {es_jit:.1f} s in its JIT compiler threads "
        f"(search work without them: {(es_cpu - es_jit) * 1000 / searches:.1f} ms per search); "
        f"worker, PostgreSQL, MinIO and this client: {rest:.1f} s"
    )


def machine_cpu_s() -> float:
    """CPU seconds all CPUs spent busy since boot (from /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def jit_compiler_cpu_s(root: int) -> float:
    """CPU seconds of the JIT compiler threads (HotSpot names them "C1/C2 CompilerThreadN") of a JVM
    and its descendants: Elasticsearch's pid file names the launcher, whose child is the node."""
    total = 0.0
    for pid in _process_tree(root):
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                compiler = "CompilerThre" in (task / "comm").read_text()
            except OSError:
                continue
            if compiler:
                total += _cpu_s(task / "stat")
    return total


def rss_line(name: str, samples_kib: list[int]) -> str:
    start, end, peak = samples_kib[0] / 1024, samples_kib[-1] / 1024, max(samples_kib) / 1024
    # Second half against first half: a leak keeps climbing, a working set levels off.
    half = len(samples_kib) // 2
    first, second = statistics.mean(samples_kib[:half]) / 1024, statistics.mean(samples_kib[half:]) / 1024
    return (
        f"{name} RSS MiB: start {start:.0f}, end {end:.0f}, peak {peak:.0f}; "
        f"mean 1st half {first:.0f} -> 2nd half {second:.0f} ({second - first:+.0f})"
    )


def process_tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of a process and every live descendant: `serve --workers N` runs
    its API in child processes."""
    return sum(_cpu_s(Path(f"/proc/{pid}/stat")) for pid in _process_tree(root))


def _process_tree(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def _cpu_s(stat: Path) -> float:
    """User + system CPU seconds from a /proc stat file (a process's or a thread's); 0 once gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def start_api_processes(env: dict[str, str], workdir: Path, workers: int) -> ApiProcess:
    port = free_ports(1)[0]
    argv = ["serve", "--port", str(port)] + (["--workers", str(workers)] if workers > 1 else [])
    api = ApiProcess(argv, env, workdir, "api", port=port)
    api.start()
    try:
        api.wait_ready(READY_TIMEOUT_S)
    except BaseException:
        api.stop()
        raise
    return api


async def drive(
    run: Run, args: argparse.Namespace, processes: dict[str, JiaoyunProcess], rss: dict[str, list[int]]
) -> None:
    """Every searcher and uploader in its closed loop until the run's deadline."""
    tasks = [asyncio.create_task(run.searcher(n)) for n in range(args.searchers)]
    tasks += [asyncio.create_task(run.uploader(n)) for n in range(args.uploaders)]
    tasks.append(asyncio.create_task(sample_rss(processes, run.deadline, rss)))
    await asyncio.gather(*tasks)


async def main_async(args: argparse.Namespace) -> list[str]:
    busy = cpu_busy_fraction(5.0)
    load1 = os.getloadavg()[0]
    print(f"before the run: CPUs {busy:.0%} busy over 5 s, load average {load1:.2f}", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="jiaoyun-load-"))
    servers = await asyncio.to_thread(PrivateServers.start)
    tenant = Tenant(servers)
    processes: dict[str, JiaoyunProcess] = {}
    try:
        await tenant.create()
        api = await asyncio.to_thread(start_api_processes, dict(tenant.env()), workdir, args.workers)
        processes = {"API": api, "worker": start_worker(tenant.env(), workdir)}
        limits = httpx.Limits(max_connections=args.searchers + args.uploaders + 10)
        async with (
            httpx.AsyncClient(base_url=api.base_url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client,
            tenant.context(workdir / "inspect") as context,
        ):
            people = await populate(client, tenant.env(), workdir, teachers=10)
            seeded_at = time.monotonic()
            await seed(client, people.teachers, args.seed)

            async def indexed() -> bool:
                async with context.sessionmaker() as session:
                    jobs = await JobRepository(session).count_by_status()
                busy_jobs = jobs.get("queued", 0) + jobs.get("running", 0)
                return busy_jobs == 0 and await pending_index_changes(context) == 0

            await wait_for(indexed, timeout_s=600, what="the seeded resources indexed")
            seed_s = time.monotonic() - seeded_at
            print(f"seeded and indexed {args.seed} resources in {seed_s:.0f} s; load starts", file=sys.stderr)

            if args.warmup > 0:
                # The same load, not counted: a node serving for days has compiled its hot paths and
                # merged the seeding's small segments; one started a minute ago is still doing both.
                warmup = Run(client, people.teachers, time.monotonic() + args.warmup)
                await drive(warmup, args, processes, {})
                print(
                    f"warm-up: {len(warmup.search.latencies_s)} searches and "
                    f"{len(warmup.upload.latencies_s)} uploads in {args.warmup:.0f} s, not counted",
                    file=sys.stderr,
                )
            elasticsearch_pid = pid_from(servers.run_dir / "pids" / "elasticsearch.pid")
            api_cpu = process_tree_cpu_s(api.pid)
            es_cpu = process_tree_cpu_s(elasticsearch_pid) if elasticsearch_pid else 0.0
            es_jit = jit_compiler_cpu_s(elasticsearch_pid) if elasticsearch_pid else 0.0
            machine_cpu = machine_cpu_s()
            started = time.monotonic()
            run = Run(client, people.teachers, started + args.duration)
            rss: dict[str, list[int]] = {}
            await drive(run, args, processes, rss)
            seconds = time.monotonic() - started
            api_cpu = process_tree_cpu_s(api.pid) - api_cpu
            es_cpu = process_tree_cpu_s(elasticsearch_pid) - es_cpu if elasticsearch_pid else 0.0
            es_jit = jit_compiler_cpu_s(elasticsearch_pid) - es_jit if elasticsearch_pid else 0.0
            machine_cpu = machine_cpu_s() - machine_cpu
            backlog = await pending_index_changes(context)
        crashed = [name for name, process in processes.items() if not process.running]
    finally:
        for process in processes.values():
            process.stop()
        await tenant.drop()
        await asyncio.to_thread(servers.close)
        shutil.rmtree(workdir, ignore_errors=True)

    lines = [
        f"load: {args.searchers} searchers + {args.uploaders} uploaders (1 MiB PDFs), closed loop, "
        f"{seconds:.0f} s on {os.cpu_count()} CPUs over loopback, {args.seed} resources seeded; "
        f"machine before the run: {busy:.0%} CPU busy, load average {load1:.2f}",
        f"API: `jiaoyun serve`{f' --workers {args.workers}' if args.workers > 1 else ''}",
        f"{'kind':<8}{'requests':>9}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}",
        report(run.search, seconds),
        report(run.upload, seconds),
        *(rss_line(name, values) for name, values in rss.items()),
        cpu_line(api_cpu, es_cpu, seconds, run),
        accounting_line(machine_cpu, api_cpu, es_cpu, es_jit, run),
        f"index backlog when the load stopped: {backlog} outbox entries; "
        f"processes that died: {', '.join(crashed) or 'none'}",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (default 120)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="seconds of the same load before the measured run, not counted (default 0)",
    )
    parser.add_argument("--searchers", type=int, default=50, help="concurrent searching users (default 50)")
    parser.add_argument("--uploaders", type=int, default=5, help="concurrent uploading users (default 5)")
    parser.add_argument(
        "--seed", type=int, default=300, help="resources created before the load (default 300)"
    )
    parser.add_argument("--workers", type=int, default=1, help="API processes: serve --workers (default 1)")
    args = parser.parse_args()
    if args.duration <= 0 or args.duration > 1800:
        parser.error("--duration must be between 0 and 1800 seconds")
    lines = asyncio.run(main_async(args))
    print("\n".join(lines))
    target = os.environ.get("JIAOYUN_PROOF_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as output:
            output.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
