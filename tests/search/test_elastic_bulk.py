"""Bulk bodies for Elasticsearch: serialized once, cut below the request-size limit, never mid-entry."""

from __future__ import annotations

import json

from search.elastic import bulk_chunks, bulk_entry


def test_entries_are_ndjson_lines() -> None:
    entry = bulk_entry({"index": {"_id": "a"}}, {"title": "树和喜鹊"})
    lines = entry.decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"index": {"_id": "a"}}, {"title": "树和喜鹊"}]
    assert bulk_entry({"delete": {"_id": "a"}}).decode().count("\n") == 1


def test_chunks_stay_under_the_limit_and_keep_entries_whole() -> None:
    entries = [bulk_entry({"index": {"_id": str(n)}}, {"body": "字" * (n * 10)}) for n in range(50)]
    limit = 2_000
    chunks = list(bulk_chunks(entries, limit))
    assert b"".join(chunks) == b"".join(entries)
    for chunk in chunks:
        assert len(chunk) <= limit or chunk in entries  # only a single oversized entry may exceed it
        lines = chunk.decode().splitlines()
        assert len(lines) % 2 == 0 and all("index" in json.loads(line) for line in lines[::2])
    assert list(bulk_chunks([], limit)) == []
