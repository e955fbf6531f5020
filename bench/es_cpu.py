"""Elasticsearch's CPU per search on bench/load.py's corpus and search mix, in a minute.

    .venv/bin/python bench/es_cpu.py [--searches 600] [--concurrency 8] [--resources 300]
        [--per-word 10] [--uploads 100] [--upload-concurrency 8] [--during 8]
        [--url http://127.0.0.1:9200 --pid ES_PID]

Indexes the documents bench/load.py's seeded resources become (a resource document and its PDF's
page each, same titles, words and subjects), then replays the load bench's search mix (its 50
searchers' words, a subject filter on every third search, a teacher's access, the API's facets,
grouped by parent and forgiving, as services/search sends them) through ElasticsearchSearchIndex,
--concurrency at a time. Prints the Elasticsearch process's CPU per search (/proc, all its threads),
the requests sent per search, and per word: CPU, requests and result size, each word searched alone.
With --uploads N, also the CPU per upload as the worker's outbox drain writes it (with older code
on PYTHONPATH, as that code's drain wrote it); with --during N, one more round of searches with an upload
arriving every N searches, drained as the worker does, with the live index's refreshes counted.

Without --url it starts private servers (scripts/test-servers.sh; no shared server is touched), so
nothing else runs on that Elasticsearch. With --url and --pid it uses that one: give a private one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from elasticsearch import AsyncElasticsearch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # before bench/, whose search.py would shadow the package
# PYTHONPATH first again, so older code there is what runs (bench/README: old and new side by side).
sys.path[:0] = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]

from load import SUBJECTS, WORDS, process_tree_cpu_s  # noqa: E402

from search.documents import AccessFilter, DocKind, SearchDocument, SearchQuery  # noqa: E402
from search.elastic import ElasticsearchSearchIndex  # noqa: E402
from services.search.service import SEARCH_FACETS, with_built_in  # noqa: E402
from tests.system.harness import PrivateServers  # noqa: E402

SEARCHERS = 50
TEACHERS = 10


class CountingClient:
    """The official client, counting the search requests sent (msearch counts its searches)."""

    def __init__(self, client: AsyncElasticsearch) -> None:
        self.client = client
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def search(self, **kwargs: Any) -> Any:
        self.requests += 1
        return await self.client.search(**kwargs)

    async def msearch(self, **kwargs: Any) -> Any:
        self.requests += len(kwargs["searches"]) // 2
        return await self.client.msearch(**kwargs)


def load_documents(resources: int, school_ids: list[str], owner_ids: list[str]) -> list[SearchDocument]:
    """What bench/load.py's seeded resources are indexed as (seeded_metadata, padded_pdf)."""
    documents = []
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for number in range(resources):
        title_words = random.Random(number).sample(WORDS, 2)
        page_words = random.Random(number).sample(WORDS, 3)
        parent = str(uuid.UUID(int=number + 1))
        teacher = number % TEACHERS
        common: dict[str, Any] = {
            "parent_id": parent,
            "title": f"{title_words[0]} {title_words[1]} 第{number}课时",
            "stage": "小学",
            "grade": "2",
            "subject": SUBJECTS[number % len(SUBJECTS)],
            "edition": "人教版",
            "volume": "下册",
            "unit": "第一单元",
            "resource_type": "lesson_plan",
            "tags": ["识字"],
            "school_id": school_ids[teacher % len(school_ids)],
            "owner_id": owner_ids[teacher],
            "visibility": "district",
            "status": "published",
            "created_at": start + timedelta(seconds=number),
        }
        documents.append(
            SearchDocument(id=parent, kind=DocKind.resource, body="二年级下册识字课\n第一单元", **common)
        )
        documents.append(
            SearchDocument(
                id=f"{parent}/page/{parent}/1",
                kind=DocKind.file_page,
                body=f"第{number}份 {' '.join(page_words)}",
                page=1,
                file_id=parent,
                **common,
            )
        )
    return documents


def teacher_access(number: int, school_ids: list[str], owner_ids: list[str]) -> AccessFilter:
    teacher = number % TEACHERS
    return AccessFilter(
        user_id=owner_ids[teacher],
        school_id=school_ids[teacher % len(school_ids)],
        published_visibilities=frozenset({"public", "district"}),
    )


def load_queries(count: int, school_ids: list[str], owner_ids: list[str]) -> list[SearchQuery]:
    """The load bench's searches in the order its 50 searchers would send them, round by round."""
    choosers = [random.Random(number) for number in range(SEARCHERS)]
    synonyms = with_built_in([])
    queries = []
    step = 0
    while len(queries) < count:
        step += 1
        for number, chooser in enumerate(choosers):
            text = chooser.choice(WORDS)
            filters = {"subject": [chooser.choice(SUBJECTS)]} if step % 3 == 0 else {}
            queries.append(
                SearchQuery(
                    text=text,
                    filters=filters,
                    access=teacher_access(number, school_ids, owner_ids),
                    facets=list(SEARCH_FACETS),
                    synonym_groups=synonyms,
                    group_by_parent=True,
                    forgiving=True,
                )
            )
    return queries[:count]


async def replay(
    index: ElasticsearchSearchIndex,
    queries: list[SearchQuery],
    concurrency: int,
    searched: Callable[[], None] | None = None,
) -> None:
    pending = iter(queries)

    async def worker() -> None:
        for query in pending:
            await index.search(query)
            if searched is not None:
                searched()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def drain_write(index: ElasticsearchSearchIndex, parents: dict[str, list[SearchDocument]]) -> None:
    """One outbox drain's write of these parents (services/indexing): `replace_parents` where the
    index has it (issue 19), else as older code wrote it (PYTHONPATH=/work/main): upsert, then
    delete_by_parent with its forced refreshes."""
    documents = [document for written in parents.values() for document in written]
    replace = getattr(index, "replace_parents", None)
    if replace is not None:
        await replace(list(parents), documents)
        return
    await index.upsert(documents)
    await index.delete_by_parent(list(parents), keep=[document.id for document in documents])


def upload_documents(
    args: argparse.Namespace, first: int, count: int, school_ids: list[str], owner_ids: list[str]
) -> list[list[SearchDocument]]:
    """`count` new uploads (a resource and its page each), numbered after the seeded ones."""
    new = load_documents(first + count, school_ids, owner_ids)[2 * first :]
    return [new[number : number + 2] for number in range(0, len(new), 2)]


async def measure_uploads(
    index: ElasticsearchSearchIndex,
    es_pid: int,
    args: argparse.Namespace,
    school_ids: list[str],
    owner_ids: list[str],
    idle_ms_per_s: float,
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """ES CPU per upload as the worker's outbox drain writes one, applied twice (the resource when
    created, then with its extracted page), --upload-concurrency uploads at a time; and the same
    upserts alone (no stale-page search or delete, no refresh of any kind). Each: ES CPU per upload,
    the same less what ES burns idle over the wall time (waiting for refreshes takes wall time), and
    the wall time."""
    uploads = upload_documents(args, args.resources, 2 * args.uploads, school_ids, owner_ids)
    costs = []
    for applied, batch in ((True, uploads[: args.uploads]), (False, uploads[args.uploads :])):
        pending = iter(batch)

        async def writer(applied: bool = applied, pending: Any = pending) -> None:
            for resource, page in pending:
                for documents in ([resource], [resource, page]):
                    if applied:
                        await drain_write(index, {resource.parent_id: documents})
                    else:
                        await index.upsert(documents)

        cpu = process_tree_cpu_s(es_pid)
        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(args.upload_concurrency)))
        wall = time.perf_counter() - started
        spent_ms = (process_tree_cpu_s(es_pid) - cpu) * 1000
        costs.append((spent_ms / len(batch), (spent_ms - idle_ms_per_s * wall) / len(batch), wall))
    return costs[0], costs[1]


async def refreshes(index: ElasticsearchSearchIndex) -> tuple[int, int]:
    """Refreshes of the live index so far: all (internal ones included) and external (new searchers)."""
    stats = await index.client.indices.stats(index=index.alias, metric="refresh")
    refresh = stats["_all"]["primaries"]["refresh"]
    return int(refresh["total"]), int(refresh["external_total"])


async def replay_while_uploading(
    index: ElasticsearchSearchIndex,
    es_pid: int,
    queries: list[SearchQuery],
    args: argparse.Namespace,
    uploads: list[list[SearchDocument]],
) -> str:
    """One replay round while an upload arrives every --during searches (bench/load.py's mix: about
    7.5), drained as the worker does: every 0.5 s (or when the last drain returns) one write of what
    arrived, an upload's resource when it arrives and again with its page a second later."""
    arrived: dict[str, list[SearchDocument]] = {}
    pending = iter(uploads)
    counts = {"searches": 0, "uploads": 0, "drains": 0}
    loop = asyncio.get_running_loop()

    def searched() -> None:
        counts["searches"] += 1
        if counts["searches"] % args.during == 0:
            resource, page = next(pending)
            arrived[resource.parent_id] = [resource]
            counts["uploads"] += 1
            loop.call_later(1.0, arrived.__setitem__, resource.parent_id, [resource, page])

    done = asyncio.Event()

    async def drainer() -> None:
        while not done.is_set():
            if arrived:
                batch = dict(arrived)
                arrived.clear()
                await drain_write(index, batch)
                counts["drains"] += 1
            await asyncio.sleep(0.5)

    refreshed = await refreshes(index)
    cpu = process_tree_cpu_s(es_pid)
    started = time.perf_counter()
    draining = asyncio.create_task(drainer())
    await replay(index, queries, args.concurrency, searched)
    wall = time.perf_counter() - started
    done.set()
    await draining
    cpu = process_tree_cpu_s(es_pid) - cpu
    total, external = (
        after - before for after, before in zip(await refreshes(index), refreshed, strict=True)
    )
    return (
        f"  with an upload every {args.during} searches ({counts['uploads']} uploads in {wall:.1f} s, "
        f"{counts['drains']} drains, {total} refreshes of which {external} external): "
        f"ES CPU per search {cpu * 1000 / len(queries):.1f} ms (uploads included), "
        f"{len(queries) / wall:.1f} searches/s"
    )


async def idle_cpu_ms_per_s(es_pid: int, seconds: float = 10) -> float:
    """What Elasticsearch burns with nothing to do (JIT, GC, housekeeping), per second of wall time."""
    cpu = process_tree_cpu_s(es_pid)
    await asyncio.sleep(seconds)
    return (process_tree_cpu_s(es_pid) - cpu) * 1000 / seconds


def upload_line(costs: tuple[tuple[float, float, float], tuple[float, float, float]]) -> str:
    (drained, drained_net, drained_wall), (written, written_net, written_wall) = costs
    return (
        f"ES CPU per upload as the drain writes it (2 applies): {drained:.1f} ms, {drained_net:.1f} ms "
        f"less idle ({drained_wall:.1f} s); the same upserts alone: {written:.1f} ms, "
        f"{written_net:.1f} ms less idle ({written_wall:.1f} s)"
    )


async def measure(args: argparse.Namespace, url: str, es_pid: int) -> list[str]:
    client = CountingClient(AsyncElasticsearch(url, request_timeout=60))
    prefix = f"escpu-{uuid.uuid4().hex[:8]}"
    index = ElasticsearchSearchIndex(cast(AsyncElasticsearch, client), prefix)
    rng = random.Random(7)
    school_ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(3)]
    owner_ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(TEACHERS)]
    lines = []
    try:
        await index.ensure_ready()
        await index.upsert(load_documents(args.resources, school_ids, owner_ids))
        await index.refresh()
        queries = load_queries(args.searches, school_ids, owner_ids)
        await replay(index, queries[: SEARCHERS * 2], args.concurrency)  # warm-up

        rounds = []
        for _ in range(args.rounds):
            client.requests = 0
            cpu = process_tree_cpu_s(es_pid)
            started = time.perf_counter()
            await replay(index, queries, args.concurrency)
            wall = time.perf_counter() - started
            cpu = process_tree_cpu_s(es_pid) - cpu
            rounds.append((cpu * 1000 / len(queries), client.requests / len(queries), len(queries) / wall))
        lines.append(
            f"{len(queries)} searches x {args.rounds} rounds, {args.concurrency} at a time, "
            f"{args.resources} resources"
        )
        for cpu_ms, requests, rate in rounds:
            lines.append(
                f"  ES CPU per search {cpu_ms:.1f} ms, {requests:.2f} requests per search, "
                f"{rate:.1f} searches/s"
            )
        lines.append(f"  median ES CPU per search: {statistics.median(r[0] for r in rounds):.1f} ms")

        if args.per_word:
            header = f"{'word':<12}{'filter':>8}{'CPU ms':>8}{'requests':>10}{'total':>7}{'homophones':>12}"
            lines.append(header)
            mix = Counter((query.text, bool(query.filters)) for query in queries)
            for (text, filtered), _ in sorted(mix.items()):
                query = next(q for q in queries if q.text == text and bool(q.filters) == filtered)
                client.requests = 0
                cpu = process_tree_cpu_s(es_pid)
                for _ in range(args.per_word):
                    result = await index.search(query)
                cpu = process_tree_cpu_s(es_pid) - cpu
                lines.append(
                    f"{text:<12}{'subject' if filtered else '-':>8}{cpu * 1000 / args.per_word:>8.1f}"
                    f"{client.requests / args.per_word:>10.2f}{result.total:>7}{result.homophones!s:>12}"
                )
        if args.during:
            first = args.resources + 2 * args.uploads
            pool = upload_documents(args, first, len(queries) // args.during + 1, school_ids, owner_ids)
            lines.append(await replay_while_uploading(index, es_pid, queries, args, pool))
        if args.uploads:
            idle = await idle_cpu_ms_per_s(es_pid)
            lines.append(f"ES CPU idle: {idle:.1f} ms per second")
            lines.append(upload_line(await measure_uploads(index, es_pid, args, school_ids, owner_ids, idle)))
    finally:
        await client.client.indices.delete(index=f"{prefix}-search-v*", ignore_unavailable=True)
        await client.client.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--searches", type=int, default=600, help="searches per round (default 600)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="searches in flight (default 8)")
    parser.add_argument("--resources", type=int, default=300, help="seeded resources (default 300)")
    parser.add_argument(
        "--per-word", type=int, default=0, help="also search each word of the mix alone this many times"
    )
    parser.add_argument(
        "--uploads", type=int, default=0, help="also write this many uploads as the outbox drain does"
    )
    parser.add_argument(
        "--upload-concurrency", type=int, default=8, help="uploads written at once with --uploads (default 8)"
    )
    parser.add_argument(
        "--during",
        type=int,
        default=0,
        help="also one more round with an upload arriving every N searches, drained (load.py: ~7.5)",
    )
    parser.add_argument("--url", help="an Elasticsearch of this run's own (default: start private servers)")
    parser.add_argument("--pid", type=int, help="that Elasticsearch's process id (with --url)")
    args = parser.parse_args()
    if bool(args.url) != bool(args.pid):
        parser.error("--url and --pid go together")
    if args.url:
        lines = asyncio.run(measure(args, args.url, args.pid))
    else:
        servers = PrivateServers.start()
        try:
            pid = int((servers.run_dir / "pids" / "elasticsearch.pid").read_text().strip())
            lines = asyncio.run(measure(args, servers.exports["JIAOYUN_TEST_ELASTICSEARCH_URL"], pid))
        finally:
            servers.close()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
