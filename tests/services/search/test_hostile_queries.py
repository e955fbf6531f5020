"""Hostile `q`: query syntax of Elasticsearch, FTS5 and SQL is only ever text to look for.

On both stacks every such query answers 200 (or 422 when it is too long), and nothing it returns,
counts or suggests comes from a resource the reader may not open.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.context import AppContext
from tests import samples
from tests.services.resources.scenario import District, district

pytestmark = pytest.mark.anyio

PDF = samples.pdf_bytes(["机密内容 树和喜鹊"])

# Lucene/query_string, simple_query_string, JSON query DSL, FTS5 MATCH syntax, SQL, regex, wildcards.
HOSTILE = [
    "*",
    "*:*",
    "?",
    "title:*",
    "visibility:private",
    "visibility:private OR visibility:school",
    "owner_id:* AND status:draft",
    "_exists_:title",
    '{"query": {"match_all": {}}}',
    '{"bool": {"must": [{"match_all": {}}]}}',
    "喜鹊 OR 1=1",
    "' OR '1'='1",
    "'; DROP TABLE resources; --",
    '" OR ""="',
    '"',
    '"""',
    "\\",
    "\\\\\\",
    "(((",
    ")))",
    "[* TO *]",
    "{* TO *}",
    "/.*/",
    "喜鹊~10",
    "喜鹊^100",
    "+喜鹊 -树",
    "a && b || !c",
    "NEAR(树 喜鹊, 5)",
    "title_chars : 喜",
    "{title_chars body_chars} : 喜",
    "- : *",
    "^喜鹊",
    "喜鹊*",
    "NOT 喜鹊",
    "AND",
    "OR OR OR",
    "%",
    "_",
    "%_%",
    "<script>alert(1)</script>",
    "\u0000",
    "喜鹊\u0000机密",
    "\u202e\u200b\ufeff",
    "😀🙃",
    "　",  # an ideographic space only
    "机密" * 100,
]


async def hostile_world(client: httpx.AsyncClient, context: AppContext) -> District:
    """A private resource and a draft that the outsider may never see, and one public one they may."""
    world = await district(client, context)
    await world.created("a.pdf", PDF, title="机密 树和喜鹊 私人", visibility="private")
    await world.created("b.pdf", PDF, title="机密 树和喜鹊 草稿", status="draft")
    await world.created("c.pdf", PDF, title="机密 树和喜鹊 本校", visibility="school")
    await world.created("d.pdf", PDF, title="公开 树和喜鹊", visibility="public")
    await world.process()
    await context.search_index.refresh()
    return world


def assert_only_public(body: dict[str, Any], most: int) -> None:
    """Only the public resource's documents (``most`` of them at the very most) show, even in counts."""
    titles = [hit["title"] for hit in body["hits"]]
    for hit in body["hits"]:
        titles += [more["title"] for more in hit.get("more", [])]
    assert set(titles) <= {"公开 树和喜鹊"}, titles
    assert body["total"] <= most
    for values in body["facets"].values():
        assert all(value["count"] <= most for value in values), body["facets"]


@pytest.mark.parametrize("kind", ["resource", "none"])
async def test_query_syntax_is_text_and_never_widens_access(
    client: httpx.AsyncClient, context: AppContext, kind: str
) -> None:
    world = await hostile_world(client, context)
    for text in HOSTILE:
        response = await client.get(
            "/api/v1/search", params={"q": text, "group": kind}, headers=world.outsider_auth
        )
        if len(text) > 200:
            assert response.status_code == 422, (text, response.text)
            continue
        assert response.status_code == 200, (text, response.text)
        # Grouped, the public resource is one hit; ungrouped, its metadata and its one page are two.
        assert_only_public(response.json(), most=1 if kind == "resource" else 2)

        suggested = await client.get(
            "/api/v1/search/suggest", params={"q": text[:50]}, headers=world.outsider_auth
        )
        assert suggested.status_code in {200, 422}, (text, suggested.text)
        if suggested.status_code == 200:
            assert {item["text"] for item in suggested.json()} <= {"公开 树和喜鹊"}, text


async def test_syntax_characters_still_find_what_they_spell(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await hostile_world(client, context)
    for text in ['"公开 树和喜鹊"', "公开*", "(公开)", "《公开》！"]:
        response = await client.get("/api/v1/search", params={"q": text}, headers=world.outsider_auth)
        assert response.status_code == 200, (text, response.text)
        assert [hit["title"] for hit in response.json()["hits"]] == ["公开 树和喜鹊"], text


async def test_huge_query_strings_are_refused_cleanly(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    auth = world.teacher_auth
    # httpx itself refuses queries over 64 KiB; uvicorn's own request-line limit is below that.
    too_long = await client.get("/api/v1/search", params={"q": "喜" * 7_000}, headers=auth)
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "invalid_payload"

    many_filters = await client.get("/api/v1/search", params=[("tags", "x")] * 5_000, headers=auth)
    assert many_filters.status_code == 422, many_filters.text

    many_unknown = await client.get(
        "/api/v1/search", params=[(f"p{n}", "v") for n in range(5_000)], headers=auth
    )
    assert many_unknown.status_code == 200, many_unknown.text

    long_suggest = await client.get("/api/v1/search/suggest", params={"q": "x" * 10_000}, headers=auth)
    assert long_suggest.status_code == 422

    paging = await client.get("/api/v1/search", params={"offset": 10**12, "limit": 10**9}, headers=auth)
    assert paging.status_code == 422
