"""An index built by the previous schema (no pinyin, no suggestions) is brought up to date on start."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch

from search.documents import AccessFilter, SearchDocument, SearchQuery
from search.elastic import MAPPINGS, SCHEMA_VERSION, ElasticsearchSearchIndex, to_es_document
from search.embedded import EmbeddedSearchIndex
from search.index import SearchIndex
from search.text import chars_field, words_field
from tests import backends
from tests.factories import search_document

pytestmark = pytest.mark.anyio

EVERYONE = AccessFilter(see_everything=True)
# What schema 1 indexed, beside the document's own fields.
_SCHEMA_1_TEXT_FIELDS = ("title_words", "body_words", "title_chars", "body_chars")
_SCHEMA_2_FIELDS = (
    "title_pinyin",
    "title_initials",
    "title_exact",
    "title_pinyin_exact",
    "title_initials_exact",
    "suggest_head",
    "suggest_keys",
    "suggest_length",
)
_SCHEMA_3_FIELDS = ("title_fuzzy",)


def old_documents() -> list[SearchDocument]:
    return [
        search_document(id="tree", title="树和喜鹊", body="课文朗读"),
        search_document(id="frog", title="小蝌蚪找妈妈"),
    ]


async def assert_upgraded(index: SearchIndex) -> None:
    async def found(text: str) -> list[str]:
        return [hit.id for hit in (await index.search(SearchQuery(text=text, access=EVERYONE))).hits]

    assert await index.count() == 2
    assert await found("朗读") == ["tree"]
    assert await found("shuhexique") == ["tree"]
    assert await found("xkdzmm") == ["frog"]
    assert await found("suhexique") == ["tree"]  # fuzzy pinyin (s = sh), schema 3
    assert [s.text for s in await index.suggest("shuhe", EVERYONE)] == ["树和喜鹊"]
    # Writes of the new shape go through, and a second start has nothing left to do.
    await index.upsert([search_document(id="crow", title="乌鸦喝水")])
    await index.refresh()
    await index.ensure_ready()
    assert await found("wuyahehe") == []
    assert await found("wuyaheshui") == ["crow"]
    assert await index.count() == 3


async def test_embedded_index_of_schema_1_is_rebuilt_from_its_stored_documents(tmp_path: Path) -> None:
    path = tmp_path / "search.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("CREATE TABLE search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    connection.execute(
        "CREATE TABLE docs_1 (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent_id TEXT NOT NULL, "
        "stage TEXT, grade TEXT, subject TEXT, edition TEXT, volume TEXT, unit TEXT, resource_type TEXT, "
        "school_id TEXT, kind TEXT, tags TEXT NOT NULL, owner_id TEXT, visibility TEXT NOT NULL, "
        "status TEXT NOT NULL, created_at REAL NOT NULL, popularity INTEGER NOT NULL, source TEXT NOT NULL)"
    )
    connection.execute("CREATE INDEX docs_1_parent ON docs_1(parent_id)")
    connection.execute(
        "CREATE VIRTUAL TABLE fts_1 USING fts5(title_words, body_words, title_chars, body_chars, "
        "tokenize = 'unicode61 remove_diacritics 0')"
    )
    for document in old_documents():
        cursor = connection.execute(
            "INSERT INTO docs_1 (id, parent_id, stage, grade, subject, edition, volume, unit, resource_type, "
            "school_id, kind, tags, owner_id, visibility, status, created_at, popularity, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                document.id,
                document.parent_id,
                document.stage,
                document.grade,
                document.subject,
                document.edition,
                document.volume,
                document.unit,
                document.resource_type,
                document.school_id,
                document.kind.value,
                json.dumps(document.tags),
                document.owner_id,
                document.visibility,
                document.status,
                document.created_at.timestamp(),
                document.popularity,
                document.model_dump_json(),
            ),
        )
        connection.execute(
            "INSERT INTO fts_1 (rowid, title_words, body_words, title_chars, body_chars) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                cursor.lastrowid,
                words_field(document.title),
                words_field(document.body),
                chars_field(document.title),
                chars_field(document.body),
            ),
        )
    connection.execute("INSERT INTO search_meta (key, value) VALUES ('live', '1')")
    connection.close()

    index = EmbeddedSearchIndex(path)
    try:
        await index.ensure_ready()
        await assert_upgraded(index)
    finally:
        await index.drop_all()


async def test_elasticsearch_index_of_schema_1_is_upgraded_in_place() -> None:
    backends.require("elasticsearch")
    client = AsyncElasticsearch(backends.ELASTICSEARCH_URL, request_timeout=30)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    name = f"{prefix}-search-v1"
    newer = (*_SCHEMA_2_FIELDS, *_SCHEMA_3_FIELDS)
    old_properties = {field: spec for field, spec in MAPPINGS["properties"].items() if field not in newer}
    assert set(_SCHEMA_1_TEXT_FIELDS) <= set(old_properties)
    await client.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={"dynamic": "strict", "properties": old_properties},
    )
    await client.indices.put_alias(index=name, name=f"{prefix}-search", is_write_index=True)
    for document in old_documents():
        body: dict[str, Any] = {
            field: value for field, value in to_es_document(document).items() if field in old_properties
        }
        await client.index(index=name, id=document.id, document=body)
    await client.indices.refresh(index=name)

    index = ElasticsearchSearchIndex(client, prefix)
    try:
        await index.ensure_ready()
        mapping = await client.indices.get_mapping(index=name)
        assert mapping[name]["mappings"]["_meta"] == {
            "schema_version": SCHEMA_VERSION,
            "fuzzy_pinyin": index.fuzzy.signature,
        }
        await assert_upgraded(index)
    finally:
        await index.drop_all()
        await index.close()
