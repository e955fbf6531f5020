"""The embedded index alone on bench/search.py's corpus and queries: CPU per category, a profile, and
the results themselves (to check a change returns exactly the same).

    .venv/bin/python bench/embedded_profile.py --resources 100000 --dir /tmp/embedded-100k time
    .venv/bin/python bench/embedded_profile.py --resources 100000 --dir /tmp/embedded-100k profile \
        --category "filters only"
    .venv/bin/python bench/embedded_profile.py --resources 100000 --dir /tmp/embedded-100k dump out.json

The index is built into --dir once (bench/search.py's generated documents, same seed) and reused by
later runs, so iterating on the query path does not pay the build each time. `dump` writes every
query's whole result (totals, hits in order with scores rounded, highlights, `more`, facets) as JSON;
two dumps compare with `cmp`. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import io
import json
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_spec = importlib.util.spec_from_file_location("bench_search", Path(__file__).resolve().parent / "search.py")
assert _spec is not None and _spec.loader is not None
bench: Any = importlib.util.module_from_spec(_spec)
sys.modules["bench_search"] = bench
_spec.loader.exec_module(bench)

from search.bitmaps import TEXT_MATCHES_KEPT  # noqa: E402
from search.documents import SearchQuery, SearchResult  # noqa: E402
from search.embedded import EmbeddedSearchIndex  # noqa: E402
from search.text import load_dictionary  # noqa: E402


async def prepare(args: argparse.Namespace) -> tuple[EmbeddedSearchIndex, list[Any], list[SearchQuery]]:
    workdir = Path(args.dir)
    setup = await bench.embedded_only_setup(workdir, args.seed)
    index = EmbeddedSearchIndex(workdir / "search.db", text_matches_kept=args.text_matches_kept)
    await load_dictionary()
    if not args.built:
        documents = bench.generate_documents(args.resources, setup.school_ids, args.seed)
        started = time.perf_counter()
        await bench.build_embedded(index, documents)
        print(f"built {len(documents)} documents in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    await index.ensure_ready()
    own_school = setup.school_ids[bench.STUDENT_SCHOOL]
    specs = bench.make_queries(args.queries, args.seed + 1, own_school, args.forgiving)
    queries = await bench.search_queries(setup.database_url, setup.principal, specs)
    return index, specs, queries


def summary(result: SearchResult) -> dict[str, Any]:
    def hit(h: Any) -> dict[str, Any]:
        return {
            "id": h.id,
            "score": round(h.score, 6),
            "highlights": h.highlights,
            "document": h.document.model_dump(mode="json"),
            "more": [hit(m) for m in h.more],
        }

    return {
        "total": result.total,
        "hits": [hit(h) for h in result.hits],
        "facets": {k: [(v.value, v.count) for v in values] for k, values in result.facets.items()},
        "homophones": result.homophones,
        "did_you_mean": result.did_you_mean,
        "understood": [u.model_dump() for u in result.understood],
    }


async def main_async(args: argparse.Namespace) -> None:
    index, specs, queries = await prepare(args)
    chosen = [
        (spec, query)
        for spec, query in zip(specs, queries, strict=True)
        if not args.category or spec.category in args.category
    ]
    for _, query in chosen[:5]:
        await index.search(query)  # warm-up: bitmaps, caches
    if args.action == "dump":
        out = []
        for spec, query in chosen:
            out.append({"query": spec.label(), "result": summary(await index.search(query))})
            # Deeper pages and other orders too: the edges a faster path must keep.
            for offset in (20, 137):
                for sort in ("relevance", "newest", "popular"):
                    paged = query.model_copy(update={"offset": offset, "sort": sort})
                    result = summary(await index.search(paged))
                    out.append({"query": f"{spec.label()} @{offset} {sort}", "result": result})
        args.dumped = json.dumps(out, ensure_ascii=False, indent=0, sort_keys=True)
        return
    if args.action == "profile":
        # In this thread, so cProfile sees the work (the index runs it on a worker thread).
        async def run_here(work: Any) -> Any:
            with index._lock:
                return work(index._connect())

        index._run = run_here  # type: ignore[method-assign]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.repeat):
            for _, query in chosen:
                await index.search(query)
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(args.sort).print_stats(args.lines)
        print(stream.getvalue())
        return
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    every_wall: list[float] = []
    every_cpu: list[float] = []
    per_query: list[tuple[float, str]] = []
    for _ in range(args.repeat):
        for spec, query in chosen:
            started, cpu_started = time.perf_counter(), time.process_time()
            await index.search(query)
            elapsed = (time.perf_counter() - started) * 1000
            used = (time.process_time() - cpu_started) * 1000
            wall.setdefault(spec.category, []).append(elapsed)
            cpu.setdefault(spec.category, []).append(used)
            every_wall.append(elapsed)
            every_cpu.append(used)
            per_query.append((used, f"{spec.category}: {spec.label()}"))
    print(f"{'category':<16}{'n':>5}{'wall p50':>10}{'CPU p50':>10}{'CPU max':>10}")
    for category in wall:
        print(
            f"{category:<16}{len(wall[category]):>5}{statistics.median(wall[category]):>10.1f}"
            f"{statistics.median(cpu[category]):>10.1f}{max(cpu[category]):>10.1f}"
        )
    for name, values in (("wall", every_wall), ("CPU", every_cpu)):
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        print(f"all {name}: p50 {cuts[49]:.1f}  p95 {cuts[94]:.1f}  p99 {cuts[98]:.1f} ms")
    if args.slowest:
        print(f"slowest {args.slowest} by CPU (ms):")
        for used, label in sorted(per_query, reverse=True)[: args.slowest]:
            print(f"{used:>8.1f}  {label}")
    await index.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["time", "profile", "dump"])
    parser.add_argument("output", nargs="?", default="embedded-results.json")
    parser.add_argument("--resources", type=int, default=30000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--forgiving", type=int, default=60)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--category", action="append")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument(
        "--text-matches-kept",
        type=int,
        default=TEXT_MATCHES_KEPT,
        help="rowids of recent text matches the index keeps until a write (0: none, every match cold)",
    )
    parser.add_argument("--slowest", type=int, default=0, help="time: list the N slowest queries by CPU")
    args = parser.parse_args()
    workdir = Path(args.dir)
    workdir.mkdir(parents=True, exist_ok=True)
    # The same made-up schools and student every time: embedded_only_setup is seeded.
    (workdir / "jiaoyun.db").unlink(missing_ok=True)
    built = workdir / f"built-{args.resources}"
    args.built = built.exists()
    if not args.built:
        for stale in workdir.glob("built-*"):
            stale.unlink()
    args.dumped = None
    asyncio.run(main_async(args))
    built.touch()
    if args.dumped is not None:
        Path(args.output).write_text(args.dumped)


if __name__ == "__main__":
    main()
