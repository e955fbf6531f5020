"""The showcase's fields on both backends: the 优秀课例 facet and filter, and the ranking boost."""

from __future__ import annotations

import pytest

from search.documents import AccessFilter, DocKind, SearchQuery
from search.index import SearchIndex
from tests.factories import search_document

pytestmark = pytest.mark.anyio

EVERYONE = AccessFilter(see_everything=True)
LEVEL_COUNTS = [("district", 2), ("school", 1)]


async def test_exemplary_facet_counts_resources_by_level(search_index: SearchIndex) -> None:
    await search_index.upsert(
        [
            search_document(
                id="d1", title="树和喜鹊 课例", exemplary_level="district", exemplary_year="2026"
            ),
            # A page of the same resource carries its marks: grouped, the resource counts once.
            search_document(
                id="d1/page/1",
                parent_id="d1",
                kind=DocKind.file_page,
                title="树和喜鹊 课例",
                body="树和喜鹊 板书",
                page=1,
                exemplary_level="district",
                exemplary_year="2026",
            ),
            search_document(
                id="d2", title="树和喜鹊 说课", exemplary_level="district", exemplary_year="2025"
            ),
            search_document(id="s1", title="树和喜鹊 练习", exemplary_level="school", exemplary_year="2026"),
            search_document(id="n1", title="树和喜鹊 教案"),
            search_document(
                id="hidden", title="树和喜鹊 草稿", exemplary_level="school", visibility="private"
            ),
        ]
    )
    await search_index.refresh()
    reader = AccessFilter(user_id="someone", published_visibilities=frozenset({"public"}))
    result = await search_index.search(
        SearchQuery(text="树和喜鹊", access=reader, facets=["exemplary_level"], group_by_parent=True)
    )
    assert result.total == 4
    assert [(f.value, f.count) for f in result.facets["exemplary_level"]] == LEVEL_COUNTS

    # Filtered by level, the facet still counts the other levels (multi-select), the hits narrow.
    district = await search_index.search(
        SearchQuery(
            text="树和喜鹊",
            access=reader,
            filters={"exemplary_level": ["district"]},
            facets=["exemplary_level"],
            group_by_parent=True,
        )
    )
    assert sorted(hit.parent_id for hit in district.hits) == ["d1", "d2"]
    assert [(f.value, f.count) for f in district.facets["exemplary_level"]] == LEVEL_COUNTS
    by_year = await search_index.search(
        SearchQuery(access=reader, filters={"exemplary_year": ["2026"]}, group_by_parent=True)
    )
    assert sorted(hit.parent_id for hit in by_year.hits) == ["d1", "s1"]
    # Browsing without text: the same facet, counted over resources.
    browsing = await search_index.search(
        SearchQuery(access=reader, facets=["exemplary_level"], group_by_parent=True)
    )
    assert [(f.value, f.count) for f in browsing.facets["exemplary_level"]] == LEVEL_COUNTS


async def test_exemplary_and_featured_rank_higher_within_a_tier(search_index: SearchIndex) -> None:
    await search_index.upsert(
        [
            # Five with the query as a phrase in their title (one tier). Without the boost the plain one,
            # newest and with the words in its body as well, would rank first.
            search_document(id="school", title="认识钟表 第二课时", exemplary_level="school"),
            search_document(id="district", title="认识钟表 第三课时", exemplary_level="district"),
            search_document(
                id="featured", title="认识钟表 第四课时", exemplary_level="district", featured=True
            ),
            # An exact title is a tier above: no boost lifts an exemplary lesson over it.
            search_document(id="exact", title="认识钟表"),
            search_document(id="plain", title="认识钟表 第一课时", body="认识钟表"),
        ]
    )
    await search_index.refresh()

    async def order(**options: object) -> list[str]:
        query = SearchQuery(text="认识钟表", access=EVERYONE, **options)
        return [hit.id for hit in (await search_index.search(query)).hits]

    assert await order() == ["exact", "featured", "district", "school", "plain"]
    assert await order(group_by_parent=True) == ["exact", "featured", "district", "school", "plain"]
    # Other orders ignore the boost: newest is by time alone.
    assert await order(sort="newest") == ["plain", "exact", "featured", "district", "school"]
