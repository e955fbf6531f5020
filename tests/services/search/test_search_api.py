"""Search through the API on both stacks: Chinese, pinyin, inside documents and videos, permissions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.context import AppContext
from storage.models.identity import Role
from tests import samples
from tests.factories import make_user, token_for, upload_form
from tests.services.resources.scenario import District, district, main_file

pytestmark = pytest.mark.anyio

PDF = samples.pdf_bytes(["第一页 拼音练习", "第二页 小蝌蚪找妈妈 课后组词练习"])
DOCX = samples.docx_bytes(["教学目标：认识生字", "教学过程：分角色朗读课文"])


async def search(world: District, auth: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = await world.client.get("/api/v1/search", params=params, headers=auth or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def library(world: District) -> dict[str, dict[str, Any]]:
    """A few real resources, processed and indexed as the worker does it."""
    made = {
        "magpie": await world.created(
            "树和喜鹊.mp4",
            samples.mp4_bytes(),
            title="树和喜鹊",
            resource_type="lesson_record",
            subject="语文",
        ),
        "magpie2": await world.created(
            "a.pdf", PDF, title="树和喜鹊 第二课时 拓展阅读", resource_type="lesson_plan", subject="语文"
        ),
        "math": await world.created(
            "b.docx", DOCX, title="认识钟表", resource_type="lesson_plan", subject="数学", grade=1
        ),
        "draft": await world.created(
            "c.pdf", PDF, title="喜鹊 草稿", status="draft", resource_type="lesson_plan", subject="语文"
        ),
        "private": await world.created(
            "d.pdf", PDF, title="喜鹊 私人", visibility="private", resource_type="lesson_plan", subject="语文"
        ),
        "elsewhere": await world.created(
            "e.pdf",
            PDF,
            title="喜鹊 外校",
            resource_type="lesson_plan",
            subject="语文",
            auth=world.outsider_auth,
        ),
    }
    subtitles = samples.srt_bytes([(1.0, 3.0, "同学们好"), (42.5, 46.0, "小喜鹊在大树上安了家")])
    response = await world.client.post(
        f"/api/v1/resources/{made['magpie']['id']}/files",
        files=upload_form({"purpose": "subtitle"}, "a.srt", subtitles),
        headers=world.teacher_auth,
    )
    assert response.status_code == 201, response.text
    await world.process()
    await world.context.search_index.refresh()
    return made


def resource_ids(body: dict[str, Any]) -> list[str]:
    return [hit["resource_id"] for hit in body["hits"]]


async def test_chinese_pinyin_and_initials_find_the_title_first(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    made = await library(world)

    for query in ("树和喜鹊", "shuhexique", "shxq"):
        body = await search(world, world.teacher_auth, q=query, kind="resource")
        assert resource_ids(body)[0] == made["magpie"]["id"], (query, body["hits"])
    exact = await search(world, world.teacher_auth, q="树和喜鹊", kind="resource")
    assert resource_ids(exact)[:2] == [made["magpie"]["id"], made["magpie2"]["id"]]
    assert "<em>" in exact["hits"][0]["highlights"]["title"]
    word = await search(world, world.teacher_auth, q="钟表")
    assert resource_ids(word)[0] == made["math"]["id"]


async def test_hits_inside_documents_and_subtitles_say_where(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    made = await library(world)

    page = await search(world, world.teacher_auth, q="课后组词练习", kind="file_page", subject="语文")
    located = [(hit["resource_id"], hit["location"]["page"]) for hit in page["hits"]]
    assert (made["magpie2"]["id"], 2) in located
    # Grouped by resource (the default), the hit is the page itself when pages are asked for.
    assert {hit["kind"] for hit in page["hits"]} == {"file_page"}
    assert len(set(resource_ids(page))) == len(page["hits"]) == page["total"]
    first = page["hits"][0]
    assert first["location"]["open_url"].endswith("#page=2")
    assert "<em>" in first["highlights"]["body"]

    docx = await search(world, world.teacher_auth, q="分角色朗读", kind="file_page")
    assert [(hit["resource_id"], hit["location"]["page"]) for hit in docx["hits"]] == [
        (made["math"]["id"], 2)
    ]

    cue = await search(world, world.teacher_auth, q="安了家", kind="video_cue")
    assert [(hit["resource_id"], hit["location"]["start_s"]) for hit in cue["hits"]] == [
        (made["magpie"]["id"], 42.5)
    ]
    assert cue["hits"][0]["text"] == "小喜鹊在大树上安了家"
    video = main_file(made["magpie"])
    assert cue["hits"][0]["location"]["open_url"] == f"{video['content_url']}#t=42.5"

    # Of any kind: a resource matching only inside its video is found by that cue.
    anywhere = await search(world, world.teacher_auth, q="安了家")
    assert [(hit["resource_id"], hit["kind"], hit["location"]["start_s"]) for hit in anywhere["hits"]] == [
        (made["magpie"]["id"], "video_cue", 42.5)
    ]


async def test_students_never_see_drafts_private_or_other_schools_anywhere(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    made = await library(world)
    hidden = {made["draft"]["id"], made["private"]["id"], made["elsewhere"]["id"]}

    student = await search(world, world.student_auth, q="喜鹊")
    assert hidden.isdisjoint(resource_ids(student))
    assert all(other["resource_id"] == hit["resource_id"] for hit in student["hits"] for other in hit["more"])
    ungrouped = await search(world, world.student_auth, q="喜鹊", group="none", limit=100)
    assert hidden.isdisjoint(resource_ids(ungrouped))
    assert made["magpie"]["id"] in resource_ids(student)
    everything = await search(world, world.student_auth, q="拼音练习", kind="file_page")
    assert hidden.isdisjoint(resource_ids(everything))
    facet_schools = {value["value"] for value in student["facets"]["school_id"]}
    assert facet_schools == {str(world.school.id)}
    assert all(hit["highlights"].get("title", "").find("草稿") < 0 for hit in student["hits"])

    teacher = await search(world, world.teacher_auth, q="喜鹊")
    assert made["draft"]["id"] in resource_ids(teacher) and made["private"]["id"] in resource_ids(teacher)
    assert made["elsewhere"]["id"] not in resource_ids(teacher)  # published, but visible to its school only
    guest = await search(world, None, q="喜鹊")
    assert guest["total"] == 0 and guest["hits"] == []


async def test_facets_count_under_filters(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    await library(world)

    everything = await search(world, world.student_auth, kind="resource")
    subjects = {value["value"]: value["count"] for value in everything["facets"]["subject"]}
    assert subjects == {"语文": 2, "数学": 1}
    only_chinese = await search(world, world.student_auth, kind="resource", subject="语文")
    assert only_chinese["total"] == 2
    types = {value["value"]: value["count"] for value in only_chinese["facets"]["resource_type"]}
    assert types == {"lesson_record": 1, "lesson_plan": 1}
    school = only_chinese["facets"]["school_id"][0]
    assert school["label"] == world.school.name


async def test_a_resource_matching_in_its_title_and_on_two_pages_is_one_hit(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    pages = samples.pdf_bytes(["第一页：小蝌蚪找妈妈 生字表", "第二页：小蝌蚪找妈妈 课后练习"])
    tadpole = await world.created(
        "f.pdf", pages, title="小蝌蚪找妈妈 导学案", resource_type="lesson_plan", subject="语文"
    )
    await library(world)

    body = await search(world, world.student_auth, q="小蝌蚪找妈妈")
    assert len(set(resource_ids(body))) == len(body["hits"]) == body["total"]
    first = body["hits"][0]
    assert (first["resource_id"], first["kind"], first["location"]["where"]) == (
        tadpole["id"],
        "resource",
        "resource",
    )
    assert first["highlights"]["title"] == "<em>小蝌蚪找妈妈</em> 导学案"
    more = sorted(first["more"], key=lambda hit: hit["location"]["page"])
    assert [(hit["kind"], hit["location"]["page"]) for hit in more] == [("file_page", 1), ("file_page", 2)]
    pdf = main_file(tadpole)
    for hit in more:
        assert hit["resource_id"] == tadpole["id"]
        assert hit["location"]["open_url"] == f"{pdf['content_url']}#page={hit['location']['page']}"
        assert "<em>小蝌蚪找妈妈</em>" in hit["highlights"]["body"]
        assert "more" not in hit
    # The library's lesson plan mentions it on its second page only: that page is its hit.
    others = [(hit["kind"], hit["location"]["page"]) for hit in body["hits"][1:]]
    assert others == [("file_page", 2)]

    # group=none: every matching document is a hit of its own, nothing in `more`.
    raw = await search(world, world.student_auth, q="小蝌蚪找妈妈", group="none")
    assert raw["total"] == len(raw["hits"]) == 4
    assert resource_ids(raw).count(tadpole["id"]) == 3
    assert all(hit["more"] == [] for hit in raw["hits"])


async def test_facets_totals_and_paging_count_resources_unless_group_none(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    await library(world)

    def counts(body: dict[str, Any], facet: str) -> dict[str, int]:
        return {value["value"]: value["count"] for value in body["facets"][facet]}

    # Three resources the student may open; with their pages and cues, nine documents.
    grouped = await search(world, world.student_auth)
    assert grouped["total"] == 3 and len(grouped["hits"]) == 3
    assert counts(grouped, "subject") == {"语文": 2, "数学": 1}
    assert counts(grouped, "kind") == {"resource": 3, "file_page": 2, "video_cue": 1}
    raw = await search(world, world.student_auth, group="none")
    assert raw["total"] == 9
    assert counts(raw, "subject") == {"语文": 6, "数学": 3}
    assert counts(raw, "kind") == {"resource": 3, "file_page": 4, "video_cue": 2}

    # Pages and cues carry their resource's title, so they all match it; still two resources.
    magpies = await search(world, world.student_auth, q="喜鹊")
    assert magpies["total"] == 2
    assert counts(magpies, "subject") == {"语文": 2}
    assert {hit["kind"] for hit in magpies["hits"]} == {"resource"}
    assert (await search(world, world.student_auth, q="喜鹊", group="none"))["total"] == 6

    for sort in ("relevance", "newest", "popular"):
        whole = resource_ids(await search(world, world.student_auth, sort=sort))
        paged = []
        for offset in range(3):
            part = await search(world, world.student_auth, sort=sort, offset=offset, limit=1)
            assert part["total"] == 3
            paged.extend(resource_ids(part))
        assert paged == whole and len(set(whole)) == 3


async def test_suggest_and_district_synonyms(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    made = await library(world)

    for prefix in ("树和", "shuhe", "shx"):
        response = await client.get(
            "/api/v1/search/suggest", params={"q": prefix}, headers=world.student_auth
        )
        assert response.status_code == 200, response.text
        assert response.json()[0]["text"] == "树和喜鹊", prefix
    hidden = await client.get("/api/v1/search/suggest", params={"q": "喜鹊"}, headers=world.student_auth)
    assert {item["text"] for item in hidden.json()}.isdisjoint({"喜鹊 草稿", "喜鹊 私人", "喜鹊 外校"})

    assert (await search(world, world.teacher_auth, q="时钟", kind="resource"))["total"] == 0
    async with context.sessionmaker() as session, session.begin():
        admin = await make_user(session, Role.district_admin)
    admin_auth = await token_for(client, admin)
    refused = await client.post(
        "/api/v1/search/synonyms", json={"terms": ["钟表", "时钟"]}, headers=world.teacher_auth
    )
    assert refused.status_code == 403
    added = await client.post("/api/v1/search/synonyms", json={"terms": ["钟表", "时钟"]}, headers=admin_auth)
    assert added.status_code == 201, added.text
    assert resource_ids(await search(world, world.teacher_auth, q="时钟", kind="resource")) == [
        made["math"]["id"]
    ]
    listed = await client.get("/api/v1/search/synonyms", headers=world.teacher_auth)
    assert {"terms": ["钟表", "时钟"], "built_in": False, "id": added.json()["id"]} in listed.json()
    removed = await client.delete(f"/api/v1/search/synonyms/{added.json()['id']}", headers=admin_auth)
    assert removed.status_code == 204
    assert (await search(world, world.teacher_auth, q="时钟", kind="resource"))["total"] == 0


async def test_bad_search_input_gets_a_clear_4xx(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    for params in (
        {"q": "x" * 500},
        {"limit": 1000},
        {"sort": "random"},
        {"kind": "everything"},
        {"group": "file"},
    ):
        response = await client.get("/api/v1/search", params=params, headers=world.teacher_auth)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "invalid_payload"
    for query in ('"unbalanced', "title:(a OR b", "*", "AND OR NOT", "\\", "喜鹊 -", "a~2^3"):
        response = await client.get("/api/v1/search", params={"q": query}, headers=world.teacher_auth)
        assert response.status_code == 200, (query, response.text)


async def test_search_parameters_are_listed_and_named_in_422s(client: httpx.AsyncClient) -> None:
    # Validated as one model (services.search.schemas.SearchParams), documented and reported one by one.
    operation = (await client.get("/openapi.json")).json()["paths"]["/api/v1/search"]["get"]
    listed = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(listed) == {
        "q", "stage", "grade", "subject", "edition", "volume", "unit", "resource_type", "school_id",
        "tags", "kind", "exemplary_level", "sort", "offset", "limit", "group",
    }  # fmt: skip
    assert all(parameter["in"] == "query" for parameter in listed.values())
    assert listed["q"]["description"].startswith("Chinese, pinyin")
    bad = await client.get(
        "/api/v1/search",
        params=[("limit", "0"), ("school_id", "00000000-0000-0000-0000-000000000001"), ("school_id", "x")],
    )
    assert bad.status_code == 422
    details = bad.json()["error"]["details"]
    assert [detail["loc"] for detail in details] == [["query", "school_id", 1], ["query", "limit"]]
    assert details[1]["type"] == "greater_than_equal"


async def test_paging_stops_at_the_result_window(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    await library(world)
    deepest = await search(world, world.student_auth, q="喜鹊", offset=9_900, limit=100)
    assert deepest["hits"] == [] and deepest["total"] > 0
    for params in ({"offset": 9_990, "limit": 20}, {"offset": 10_001}, {"limit": 101}):
        response = await client.get(
            "/api/v1/search", params={"q": "喜鹊", **params}, headers=world.student_auth
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_payload"


async def test_filters_take_the_names_teachers_write(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    made = await world.created(
        "a.pdf", PDF, title="规则意识", subject="道德与法治", volume="上册", edition="人教版", grade=3
    )
    await world.process()
    await context.search_index.refresh()
    found = await search(
        world, world.student_auth, subject="道法", volume="上", edition="人民教育出版社", kind="resource"
    )
    assert [hit["resource_id"] for hit in found["hits"]] == [made["id"]]
