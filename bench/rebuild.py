"""Rebuild (bulk indexing) before and after issue 19: Python's jieba against rjieba (jieba-rs).

    .venv/bin/python bench/rebuild.py [--resources 2000] [--rounds 2] [--elasticsearch]

Generates bench/search.py's documents (seeded) and turns every one into its Elasticsearch source
(`to_es_document`: words, characters, pinyin, initials, fuzzy pinyin), once with each segmenter, in
this one process, alternating which goes first; prints CPU seconds and docs per CPU-second of each
and their ratio. Both are measured in the same run, so the ratio holds on a loaded machine. No
server. In the rebuild, this analysis was two thirds of the time (bench/README.md).

With --elasticsearch (the servers of scripts/test-servers.sh, JIAOYUN_TEST_ELASTICSEARCH_URL) the same
documents are also rebuilt into Elasticsearch with each segmenter in turn (`rebuild()`, an index prefix
of its own, removed at the end): docs/s of the whole rebuild, and the CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import jieba  # noqa: E402

from search import text  # noqa: E402
from search.documents import SearchDocument  # noqa: E402
from search.elastic import to_es_document  # noqa: E402
from search.text import Segmenter  # noqa: E402


def _generate_documents(count: int, seed: int) -> list[SearchDocument]:
    """bench/search.py's generator (its name clashes with the search package, so loaded by path)."""
    spec = importlib.util.spec_from_file_location("bench_search", ROOT / "bench" / "search.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    documents: list[SearchDocument] = module.generate_documents(count, ["s1", "s2", "s3"], seed)
    return documents


class PythonJieba:
    def __init__(self) -> None:
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()

    def cut(self, value: str) -> list[str]:
        return list(jieba.cut(value))

    def cut_for_search(self, value: str) -> list[str]:
        return list(jieba.cut_for_search(value))


async def _batches(documents: list[SearchDocument], size: int = 500) -> AsyncIterator[list[SearchDocument]]:
    for start in range(0, len(documents), size):
        yield documents[start : start + size]


async def rebuild_rates(
    documents: list[SearchDocument], segmenters: dict[str, Segmenter | None], rounds: int
) -> str:
    from elasticsearch import AsyncElasticsearch

    from search.elastic import ElasticsearchSearchIndex

    url = os.environ.get("JIAOYUN_TEST_ELASTICSEARCH_URL")
    if not url:
        raise SystemExit("--elasticsearch needs JIAOYUN_TEST_ELASTICSEARCH_URL (scripts/test-servers.sh)")
    client = AsyncElasticsearch(url, request_timeout=120)
    index = ElasticsearchSearchIndex(client, f"jiaoyun-bench-rebuild-{uuid.uuid4().hex[:8]}")
    wall: dict[str, float] = dict.fromkeys(segmenters, 0.0)
    cpu: dict[str, float] = dict.fromkeys(segmenters, 0.0)
    try:
        await index.ensure_ready()
        for round_number in range(rounds):
            order = list(segmenters) if round_number % 2 == 0 else list(reversed(segmenters))
            for name in order:
                text.use_segmenter(segmenters[name])
                started, started_cpu = time.perf_counter(), time.process_time()
                await index.rebuild(_batches(documents))
                wall[name] += time.perf_counter() - started
                cpu[name] += time.process_time() - started_cpu
    finally:
        text.use_segmenter(None)
        await index.drop_all()
        await client.close()
    count = len(documents) * rounds
    lines = [f"rebuild into Elasticsearch, {len(documents)} documents × {rounds} rounds per segmenter"]
    lines.append(f"{'segmenter':<14}{'wall s':>8}{'docs/s':>8}{'CPU s (this process)':>22}")
    for name in segmenters:
        lines.append(f"{name:<14}{wall[name]:>8.1f}{count / wall[name]:>8.0f}{cpu[name]:>22.1f}")
    lines.append(f"rebuild docs/s, rjieba / python jieba: {wall['python jieba'] / wall['rjieba']:.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--elasticsearch", action="store_true", help="also rebuild into Elasticsearch")
    args = parser.parse_args()
    documents = _generate_documents(args.resources, 19)
    segmenters: dict[str, Segmenter | None] = {"python jieba": PythonJieba(), "rjieba": None}
    cpu: dict[str, float] = dict.fromkeys(segmenters, 0.0)
    wall: dict[str, float] = dict.fromkeys(segmenters, 0.0)
    for round_number in range(args.rounds):
        order = list(segmenters) if round_number % 2 == 0 else list(reversed(segmenters))
        for name in order:
            text.use_segmenter(segmenters[name])
            started, started_cpu = time.perf_counter(), time.process_time()
            for document in documents:
                to_es_document(document)
            cpu[name] += time.process_time() - started_cpu
            wall[name] += time.perf_counter() - started
    text.use_segmenter(None)
    count = len(documents) * args.rounds
    print(f"{len(documents)} documents × {args.rounds} rounds per segmenter, one process")
    print(f"{'segmenter':<14}{'CPU s':>8}{'wall s':>8}{'docs/CPU-s':>12}")
    for name in segmenters:
        print(f"{name:<14}{cpu[name]:>8.1f}{wall[name]:>8.1f}{count / cpu[name]:>12.0f}")
    print(f"analysis speed-up (CPU): {cpu['python jieba'] / cpu['rjieba']:.2f}x")
    if args.elasticsearch:
        print(asyncio.run(rebuild_rates(documents, segmenters, args.rounds)))


if __name__ == "__main__":
    main()
