"""Topic threads (专题研讨) through the API on both stacks: a whole discussion, permissions, search."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.context import AppContext
from services.jobs.worker import Worker
from storage.models.identity import Role, User
from tests import samples
from tests.factories import make_user, token_for
from tests.services.resources.scenario import District, district

pytestmark = pytest.mark.anyio

PDF = samples.pdf_bytes(["教学设计"])


@dataclass
class Staff:
    """Beyond the resource scenario's district: a second colleague, moderators, a district admin."""

    world: District
    colleague2: User
    lead: User
    school_admin: User
    other_admin: User
    district_admin: User
    auth: dict[str, dict[str, str]]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.world.client

    async def call(
        self, method: str, url: str, who: str | None, json: Any = None, expect: int | None = None, **kw: Any
    ) -> httpx.Response:
        headers = self.auth[who] if who else {}
        response = await self.client.request(method, url, json=json, headers=headers, **kw)
        if expect is not None:
            assert response.status_code == expect, (method, url, who, response.text)
        return response

    async def ok(self, method: str, url: str, who: str | None, json: Any = None, expect: int = 200) -> Any:
        response = await self.call(method, url, who, json, expect)
        return response.json() if response.content else None

    async def topic(self, who: str = "teacher", expect: int = 201, **fields: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"title": "大单元教学怎么设计", "body": "大家说说看", **fields}
        body: dict[str, Any] = await self.ok("POST", "/api/v1/topics", who, data, expect)
        return body

    async def post(
        self, topic_id: str, who: str, body: str, parent_id: str | None = None, expect: int = 201
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"body": body}
        if parent_id is not None:
            data["parent_id"] = parent_id
        result: dict[str, Any] = await self.ok("POST", f"/api/v1/topics/{topic_id}/posts", who, data, expect)
        return result

    async def detail(self, topic_id: str, who: str | None = "teacher") -> dict[str, Any]:
        body: dict[str, Any] = await self.ok("GET", f"/api/v1/topics/{topic_id}", who)
        return body

    async def inbox(self, who: str) -> list[dict[str, Any]]:
        body = await self.ok("GET", "/api/v1/notifications?limit=100", who)
        items: list[dict[str, Any]] = body["items"]
        return items

    async def listed(self, who: str | None, **params: Any) -> dict[str, Any]:
        response = await self.client.get(
            "/api/v1/topics", params=params, headers=self.auth[who] if who else {}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def search(self, who: str | None, **params: Any) -> dict[str, Any]:
        await Worker(self.world.context).run_until_idle()
        await self.world.context.search_index.refresh()
        response = await self.client.get(
            "/api/v1/search", params=params, headers=self.auth[who] if who else {}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def staff(client: httpx.AsyncClient, context: AppContext) -> Staff:
    world = await district(client, context)
    async with context.sessionmaker() as session, session.begin():
        colleague2 = await make_user(session, Role.teacher, world.school)
        lead = await make_user(session, Role.research_lead, None)
        school_admin = await make_user(session, Role.school_admin, world.school)
        other_admin = await make_user(session, Role.school_admin, world.other_school)
        district_admin = await make_user(session, Role.district_admin, None)
    auth = {
        "teacher": world.teacher_auth,
        "colleague": world.colleague_auth,
        "student": world.student_auth,
        "outsider": world.outsider_auth,
        "colleague2": await token_for(client, colleague2),
        "lead": await token_for(client, lead),
        "school_admin": await token_for(client, school_admin),
        "other_admin": await token_for(client, other_admin),
        "district_admin": await token_for(client, district_admin),
    }
    return Staff(world, colleague2, lead, school_admin, other_admin, district_admin, auth)


def kinds(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["kind"], item["subject"].get("post_id") or item["subject"]["topic_id"]) for item in items]


async def test_a_whole_thread(client: httpx.AsyncClient, context: AppContext) -> None:
    s = await staff(client, context)
    w = s.world
    resource = await w.created("a.pdf", PDF, title="四季 课件", resource_type="courseware")
    elsewhere = await w.created(
        "b.pdf", PDF, title="外校 课件", resource_type="courseware", auth=w.outsider_auth
    )

    # Teacher A opens a topic spanning grades 3 and 5, 语文 and 数学, linking a resource, and
    # mentions a colleague and a teacher of another school, who cannot see a school topic.
    topic = await s.topic(
        title="<script>alert(1)</script>跨学科阅读 单元整体设计",
        body=f"**怎样**把阅读和数学结合？ @{w.colleague.username} @{w.outsider.username} "
        "<img src=x onerror=alert(1)>",
        grades=[5, 3, 5],
        subjects=["语文", "数学"],
        resource_ids=[resource["id"]],
    )
    topic_id = topic["id"]
    assert topic["grades"] == [3, 5] and topic["subjects"] == ["语文", "数学"]
    assert topic["visibility"] == "school" and topic["state"] == "open" and not topic["pinned"]
    assert topic["school_id"] == str(w.school.id) and topic["owner_id"] == str(w.teacher.id)
    assert topic["resources"] == [{"id": resource["id"], "title": "四季 课件"}]
    assert "<strong>怎样</strong>" in topic["body_html"]
    assert "<img" not in topic["body_html"] and "&lt;img src=x" in topic["body_html"]
    assert topic["title"].startswith("<script>")  # stored as written; escaped wherever it is rendered
    assert topic["permissions"] == {
        "edit": True,
        "delete": True,
        "post": True,
        "moderate": False,
        "summarize": True,
    }
    assert kinds(await s.inbox("colleague")) == [("mention", topic_id)]
    assert await s.inbox("outsider") == []

    # Colleagues reply; a reply, and a reply to that reply (it joins the same top-level post).
    first = await s.post(topic_id, "colleague", "先确定大概念。<script>alert('x')</script>")
    assert "<script>" not in first["body_html"] and "&lt;script&gt;" in first["body_html"]
    lead_post = await s.post(
        topic_id, "lead", f"同意 @{w.student.username} @{w.outsider.username} @{s.colleague2.username}"
    )
    reply = await s.post(topic_id, "colleague2", "比如 *统计* 单元", parent_id=first["id"])
    assert reply["parent_id"] == first["id"]
    nested = await s.post(topic_id, "teacher", "好主意", parent_id=reply["id"])
    assert nested["parent_id"] == first["id"]  # one level of nesting

    # Mentions reach only those who can read the topic; a reply reaches the author it answers.
    assert kinds(await s.inbox("student")) == [("mention", lead_post["id"])]
    assert await s.inbox("outsider") == []
    assert kinds(await s.inbox("colleague2")) == [("reply", nested["id"]), ("mention", lead_post["id"])]
    assert set(kinds(await s.inbox("colleague"))) == {
        ("reply", reply["id"]),
        ("reply", nested["id"]),
        ("mention", topic_id),
    }

    detail = await s.detail(topic_id)
    assert detail["post_count"] == 4 and detail["participant_count"] == 4
    assert [post["id"] for post in detail["posts"]] == [first["id"], lead_post["id"]]
    assert [post["id"] for post in detail["posts"][0]["replies"]] == [reply["id"], nested["id"]]
    assert detail["posts"][0]["author"]["username"] == w.colleague.username
    assert detail["last_activity_at"] >= detail["created_at"]

    # Edits keep the earlier text; only newly mentioned people hear about an edit.
    await s.ok(
        "PATCH",
        f"/api/v1/topics/{topic_id}",
        "teacher",
        {"body": f"**怎样**把阅读和数学结合？（修订） @{w.colleague.username} @{s.colleague2.username}"},
    )
    history = await s.ok("GET", f"/api/v1/topics/{topic_id}/history", "student")
    assert len(history) == 1 and history[0]["body"].startswith("**怎样**把阅读和数学结合？ @")
    assert [kind for kind, _ in kinds(await s.inbox("colleague"))].count("mention") == 1
    assert ("mention", topic_id) in kinds(await s.inbox("colleague2"))
    edited = await s.ok(
        "PATCH", f"/api/v1/posts/{first['id']}", "colleague", {"body": "先确定大概念和核心问题。"}
    )
    assert edited["edited_at"] is not None and edited["body"] == "先确定大概念和核心问题。"
    post_history = await s.ok("GET", f"/api/v1/posts/{first['id']}/history", "teacher")
    assert [item["body"] for item in post_history] == ["先确定大概念。<script>alert('x')</script>"]
    await s.call("PATCH", f"/api/v1/posts/{first['id']}", "teacher", {"body": "改别人的"}, expect=403)
    await s.call("PATCH", f"/api/v1/posts/{first['id']}", "lead", {"body": "改别人的"}, expect=403)

    # A moderator pins it; a teacher may not.
    await s.call("POST", f"/api/v1/topics/{topic_id}/pin", "colleague", expect=403)
    pinned = await s.ok("POST", f"/api/v1/topics/{topic_id}/pin", "school_admin")
    assert pinned["pinned"] and pinned["permissions"]["moderate"]
    other = await s.topic(title="另一个话题")
    listed = await s.listed("teacher")
    assert [item["id"] for item in listed["items"]] == [topic_id, other["id"]]  # pinned first

    # A deleted post keeps its place, without its words; its replies stay.
    await s.call("DELETE", f"/api/v1/posts/{reply['id']}", "colleague2", expect=204)
    await s.call("DELETE", f"/api/v1/posts/{first['id']}", "school_admin", expect=204)
    detail = await s.detail(topic_id)
    placeholder = detail["posts"][0]
    assert placeholder["id"] == first["id"] and placeholder["deleted"]
    assert placeholder["body"] is None and placeholder["body_html"] is None
    assert placeholder["author"]["username"] == w.colleague.username
    assert [(item["id"], item["deleted"]) for item in placeholder["replies"]] == [
        (reply["id"], True),
        (nested["id"], False),
    ]
    assert detail["post_count"] == 2
    await s.call("GET", f"/api/v1/posts/{first['id']}/history", "teacher", expect=404)
    await s.call("PATCH", f"/api/v1/posts/{first['id']}", "colleague", {"body": "x"}, expect=409)
    await s.post(topic_id, "teacher", "回复已删除的发言", parent_id=first["id"], expect=409)

    # A research lead sums it up and closes it; everyone who took part is told.
    await s.call("POST", f"/api/v1/topics/{topic_id}/summary", "colleague", {"summary": "x"}, expect=403)
    summary = "## 结论\n1. 以大概念统整 <script>x</script>"
    closed = await s.ok("POST", f"/api/v1/topics/{topic_id}/summary", "lead", {"summary": summary})
    assert closed["state"] == "closed" and closed["summary"] == summary
    assert closed["summarized_by_id"] == str(s.lead.id) and closed["summarized_at"]
    assert "<h2>结论</h2>" in closed["summary_html"] and "<script>" not in closed["summary_html"]
    assert not closed["permissions"]["post"]
    for who in ("teacher", "colleague", "colleague2"):
        assert ("topic_summarized", topic_id) in kinds(await s.inbox(who)), who
    for who in ("lead", "student", "outsider"):
        assert ("topic_summarized", topic_id) not in kinds(await s.inbox(who)), who
    await s.post(topic_id, "teacher", "还有补充", expect=409)
    await s.post(topic_id, "colleague", "补充", parent_id=nested["id"], expect=409)

    # A student reads the school topic and its history but writes nothing.
    assert (await s.detail(topic_id, "student"))["permissions"] == {
        "edit": False,
        "delete": False,
        "post": False,
        "moderate": False,
        "summarize": False,
    }
    open_topic = other["id"]
    for method, url, data in (
        ("POST", "/api/v1/topics", {"title": "学生话题", "body": "x", "visibility": "district"}),
        ("POST", f"/api/v1/topics/{open_topic}/posts", {"body": "我也说"}),
        ("PATCH", f"/api/v1/topics/{open_topic}", {"title": "改"}),
        ("POST", f"/api/v1/topics/{open_topic}/pin", None),
        ("POST", f"/api/v1/topics/{open_topic}/unpin", None),
        ("POST", f"/api/v1/topics/{open_topic}/summary", {"summary": "x"}),
        ("DELETE", f"/api/v1/topics/{open_topic}", None),
        ("PATCH", f"/api/v1/posts/{nested['id']}", {"body": "x"}),
        ("DELETE", f"/api/v1/posts/{nested['id']}", None),
    ):
        await s.call(method, url, "student", data, expect=403)

    # A teacher of another school: 404 on the school topic, the district topic is there for them.
    for method, url, data in (
        ("GET", f"/api/v1/topics/{topic_id}", None),
        ("GET", f"/api/v1/topics/{topic_id}/history", None),
        ("POST", f"/api/v1/topics/{open_topic}/posts", {"body": "外校"}),
        ("PATCH", f"/api/v1/posts/{nested['id']}", {"body": "x"}),
        ("GET", f"/api/v1/posts/{nested['id']}/history", None),
        ("POST", f"/api/v1/topics/{topic_id}/pin", None),
        ("DELETE", f"/api/v1/topics/{topic_id}", None),
    ):
        await s.call(method, url, "outsider", data, expect=404)
    await s.call("POST", f"/api/v1/topics/{topic_id}/pin", "other_admin", expect=404)
    district_topic = await s.topic(title="区级 作业设计研讨", visibility="district")
    assert [item["id"] for item in (await s.listed("outsider"))["items"]] == [district_topic["id"]]
    await s.post(district_topic["id"], "outsider", "我们学校也在做")
    # Another school's admin reads a district topic but does not moderate it.
    await s.call("POST", f"/api/v1/topics/{district_topic['id']}/pin", "other_admin", expect=403)
    await s.call("GET", f"/api/v1/topics/{district_topic['id']}", None, expect=404)  # guests: public only

    # The linked resource of another school is not shown to, nor linkable by, those who cannot open it.
    await s.ok(
        "PATCH", f"/api/v1/topics/{district_topic['id']}", "teacher", {"resource_ids": [resource["id"]]}
    )
    seen_by_outsider = await s.detail(district_topic["id"], "outsider")
    assert seen_by_outsider["resources"] == []
    assert (await s.detail(district_topic["id"], "teacher"))["resources"] == [
        {"id": resource["id"], "title": "四季 课件"}
    ]
    await s.call(
        "PATCH",
        f"/api/v1/topics/{district_topic['id']}",
        "teacher",
        {"resource_ids": [resource["id"], elsewhere["id"]]},
        expect=404,
    )


async def test_search_finds_topics_and_posts_for_those_who_may_read_them(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    s = await staff(client, context)
    topic = await s.topic(
        title="整本书阅读 推进课", body="如何设计导读单", grades=[5, 3], subjects=["语文", "道法"]
    )
    post = await s.post(topic["id"], "colleague", "可以用思维导图梳理人物关系")
    deleted = await s.post(topic["id"], "colleague", "这条说错了 蝌蚪文")
    await s.call("DELETE", f"/api/v1/posts/{deleted['id']}", "colleague", expect=204)
    elsewhere = await s.topic(who="outsider", title="整本书阅读 外校研讨", body="外校的讨论")

    found = await s.search("student", q="整本书阅读")
    assert [(hit["topic_id"], hit["resource_id"], hit["kind"]) for hit in found["hits"]] == [
        (topic["id"], None, "post")
    ]
    assert found["hits"][0]["title"] == "整本书阅读 推进课"
    assert found["hits"][0]["location"]["where"] == "post"

    in_post = await s.search("student", q="思维导图", group="none")
    assert [(hit["id"], hit["topic_id"], hit["post_id"]) for hit in in_post["hits"]] == [
        (f"{topic['id']}/post/{post['id']}", topic["id"], post["id"])
    ]
    location = in_post["hits"][0]["location"]
    assert location["open_url"] == f"/api/v1/topics/{topic['id']}#post-{post['id']}"
    assert "<em>" in in_post["hits"][0]["highlights"]["body"]
    assert (await s.search("student", q="蝌蚪文"))["hits"] == []

    # Grades and subjects: the lowest grade and the first subject as facets, every one as a tag.
    hit = found["hits"][0]
    assert hit["grade"] == 3 and hit["subject"] == "语文" and hit["stage"] == "小学"
    assert sorted(hit["tags"]) == sorted(["年级:3", "年级:5", "学科:语文", "学科:道德与法治"])
    tagged = await s.search("student", q="整本书阅读", tags="年级:5")
    assert [hit["topic_id"] for hit in tagged["hits"]] == [topic["id"]]

    # Titles are escaped in highlights like everything else search returns.
    await s.topic(title="<img src=x onerror=alert(1)>蝴蝶效应 研讨", body="<script>alert(1)</script>")
    escaped = await s.search("student", q="蝴蝶效应")
    highlighted = escaped["hits"][0]["highlights"]["title"]
    assert "<img" not in highlighted and "&lt;img" in highlighted and "<em>" in highlighted

    outside = await s.search("outsider", q="整本书阅读")
    assert [hit["topic_id"] for hit in outside["hits"]] == [elsewhere["id"]]
    assert (await s.search(None, q="整本书阅读"))["hits"] == []

    # Edits, summaries and deletion reach the index.
    await s.ok("PATCH", f"/api/v1/topics/{topic['id']}", "teacher", {"title": "名著阅读 推进课"})
    await s.ok("POST", f"/api/v1/topics/{topic['id']}/summary", "teacher", {"summary": "用好 阅读存折"})
    renamed = await s.search("student", q="阅读存折", group="none")
    assert {hit["title"] for hit in renamed["hits"]} == {"名著阅读 推进课"}
    await s.call("DELETE", f"/api/v1/topics/{topic['id']}", "lead", expect=204)
    assert (await s.search("student", q="思维导图"))["hits"] == []
    await s.call("GET", f"/api/v1/topics/{topic['id']}", "teacher", expect=404)


async def test_listing_filters_and_order(client: httpx.AsyncClient, context: AppContext) -> None:
    s = await staff(client, context)
    senior = await s.topic(
        title="高中 数学 建模", grades=[10, 11, 12], subjects=["数学"], visibility="district"
    )
    first = await s.topic(title="一年级 拼音 游戏化", grades=[1], subjects=["语文"])
    moral = await s.topic(title="道法 议题式教学", grades=[3, 5], subjects=["道德与法治"], who="colleague")
    elsewhere = await s.topic(title="外校 拼音", grades=[1], subjects=["语文"], who="outsider")

    def ids(body: dict[str, Any]) -> list[str]:
        return [item["id"] for item in body["items"]]

    everything = await s.listed("teacher")
    assert ids(everything) == [moral["id"], first["id"], senior["id"]] and everything["total"] == 3
    assert ids(await s.listed("teacher", grade=1)) == [first["id"]]  # not 10, 11, 12
    assert ids(await s.listed("teacher", grade=11)) == [senior["id"]]
    assert ids(await s.listed("teacher", grade=5)) == [moral["id"]]
    assert ids(await s.listed("teacher", subject="道法")) == [moral["id"]]
    assert ids(await s.listed("teacher", q="拼音")) == [first["id"]]
    assert ids(await s.listed("teacher", school_id=str(s.world.other_school.id))) == []
    assert ids(await s.listed("teacher", owner_id=str(s.world.colleague.id))) == [moral["id"]]
    page = await s.listed("teacher", offset=1, limit=1)
    assert ids(page) == [first["id"]] and page["total"] == 3

    # New activity lifts a topic; a research lead sees every school's topics; state filters.
    await s.post(senior["id"], "colleague", "建模活动怎么评价？")
    assert ids(await s.listed("teacher"))[0] == senior["id"]
    assert set(ids(await s.listed("lead", grade=1))) == {first["id"], elsewhere["id"]}
    assert set(ids(await s.listed("district_admin"))) == {
        senior["id"],
        first["id"],
        moral["id"],
        elsewhere["id"],
    }
    assert ids(await s.listed("school_admin", q="外校")) == []
    await s.ok("POST", f"/api/v1/topics/{moral['id']}/summary", "lead", {"summary": "小结", "close": False})
    assert ids(await s.listed("teacher", state="summarized")) == [moral["id"]]
    assert ids(await s.listed("teacher", state="closed")) == []
    assert ids(await s.listed(None)) == []
    public = await s.topic(title="公开 研讨", visibility="public")
    assert ids(await s.listed(None)) == [public["id"]]
    # Summarized but not closed: replies still welcome.
    await s.post(moral["id"], "teacher", "继续讨论")


async def test_bad_input_is_refused_clearly(client: httpx.AsyncClient, context: AppContext) -> None:
    s = await staff(client, context)
    w = s.world
    topic = await s.topic()
    other_topic = await s.topic(title="另一个")
    other_post = await s.post(other_topic["id"], "colleague", "别的话题里的发言")
    private = await w.created("p.pdf", PDF, title="私人", resource_type="courseware", visibility="private")
    elsewhere = await w.created("e.pdf", PDF, title="外校", resource_type="courseware", auth=w.outsider_auth)

    async def refused(data: dict[str, Any], status: int, who: str = "teacher") -> dict[str, Any]:
        response = await s.call(
            "POST", "/api/v1/topics", who, {"title": "t", "body": "b", **data}, expect=status
        )
        error: dict[str, Any] = response.json()["error"]
        return error

    assert (await refused({"title": "   "}, 422))["code"] == "invalid_payload"
    assert (await refused({"body": " \n "}, 422))["code"] == "invalid_payload"
    unknown = await refused({"subjects": ["语文", "炼金术"]}, 422)
    assert "炼金术" in unknown["details"][0]["msg"]
    await refused({"grades": [0]}, 422)
    await refused({"grades": [13]}, 422)
    await refused({"visibility": "private"}, 422)
    await refused({"resource_ids": ["not-a-uuid"]}, 422)
    # Unknown and unreadable resources look the same.
    assert (await refused({"resource_ids": [str(uuid.uuid4())]}, 404))["code"] == "not_found"
    assert (await refused({"resource_ids": [elsewhere["id"]]}, 404))["code"] == "not_found"
    await refused({"resource_ids": [private["id"]]}, 404, who="colleague")
    await s.topic(resource_ids=[private["id"]])  # the owner may link their own
    # District-level people have no school for a school topic.
    assert "district" in (await refused({}, 422, who="lead"))["message"]
    await s.topic(who="lead", visibility="district")
    await s.call("PATCH", f"/api/v1/topics/{topic['id']}", "teacher", {"title": ""}, expect=422)
    await s.call("PATCH", f"/api/v1/topics/{topic['id']}", "teacher", {"title": None}, expect=422)
    await s.call("PATCH", f"/api/v1/topics/{topic['id']}", "teacher", {"visibility": "private"}, expect=422)
    await s.call("PATCH", f"/api/v1/topics/{topic['id']}", "colleague", {"title": "别人的"}, expect=403)
    district_edit = await s.ok(
        "PATCH", f"/api/v1/topics/{topic['id']}", "district_admin", {"title": "区里改"}
    )
    assert district_edit["title"] == "区里改"
    await s.call("GET", "/api/v1/topics?subject=炼金术", "teacher", expect=422)
    await s.call("GET", "/api/v1/topics?grade=13", "teacher", expect=422)

    posts = f"/api/v1/topics/{topic['id']}/posts"
    await s.call("POST", posts, "colleague", {"body": ""}, expect=422)
    await s.call("POST", posts, "colleague", {"body": "   "}, expect=422)
    await s.call("POST", posts, "colleague", {"body": "x", "parent_id": other_post["id"]}, expect=422)
    await s.call("POST", posts, "colleague", {"body": "x", "parent_id": str(uuid.uuid4())}, expect=422)
    await s.call("POST", f"/api/v1/topics/{uuid.uuid4()}/posts", "colleague", {"body": "x"}, expect=404)
    await s.call("PATCH", f"/api/v1/posts/{uuid.uuid4()}", "colleague", {"body": "x"}, expect=404)
    await s.call("PATCH", f"/api/v1/posts/{other_post['id']}", "teacher", {"body": "x"}, expect=403)
    await s.call("POST", f"/api/v1/topics/{topic['id']}/summary", "teacher", {"summary": " "}, expect=422)
    await s.call("POST", "/api/v1/topics", None, {"title": "t", "body": "b"}, expect=401)
    error = (await s.call("DELETE", f"/api/v1/topics/{topic['id']}", "colleague", expect=403)).json()
    assert error["error"]["code"] == "forbidden"


async def test_who_deletes_what(client: httpx.AsyncClient, context: AppContext) -> None:
    s = await staff(client, context)
    mine = await s.topic(title="作者删除")
    by_lead = await s.topic(title="教研员删除")
    by_admin = await s.topic(title="校管理员删除")
    district_topic = await s.topic(title="区级", visibility="district")
    post = await s.post(mine["id"], "colleague", "一条发言")
    await s.ok("PATCH", f"/api/v1/posts/{post['id']}", "colleague", {"body": "改过的发言"})

    await s.call("DELETE", f"/api/v1/topics/{mine['id']}", "colleague", expect=403)
    await s.call("DELETE", f"/api/v1/topics/{mine['id']}", "teacher", expect=204)
    await s.call("GET", f"/api/v1/posts/{post['id']}/history", "colleague", expect=404)
    await s.call("DELETE", f"/api/v1/topics/{by_lead['id']}", "lead", expect=204)
    await s.call("DELETE", f"/api/v1/topics/{by_admin['id']}", "school_admin", expect=204)
    await s.call("DELETE", f"/api/v1/topics/{district_topic['id']}", "other_admin", expect=403)
    await s.call("POST", f"/api/v1/topics/{district_topic['id']}/pin", "lead", expect=200)
    unpinned = await s.ok("POST", f"/api/v1/topics/{district_topic['id']}/unpin", "district_admin")
    assert not unpinned["pinned"]
    # Deleting a deleted post again changes nothing; a moderator may, another teacher may not.
    reply = await s.post(district_topic["id"], "outsider", "外校老师的发言")
    await s.call("DELETE", f"/api/v1/posts/{reply['id']}", "colleague", expect=403)
    await s.call("DELETE", f"/api/v1/posts/{reply['id']}", "lead", expect=204)
    await s.call("DELETE", f"/api/v1/posts/{reply['id']}", "lead", expect=204)
    assert (await s.detail(district_topic["id"]))["post_count"] == 0
    assert [item["id"] for item in (await s.listed("teacher"))["items"]] == [district_topic["id"]]
