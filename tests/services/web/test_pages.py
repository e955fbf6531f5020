"""The web pages without a browser: sign-in and cookies, CSRF, drafts, escaping, error pages."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.context import AppContext
from services.identity.browser import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from services.web.presenters import CHINA_TIME
from tests import samples
from tests.factories import upload_form
from tests.services.research.review_world import ReviewWorld, review_world
from tests.services.web.browsers import (
    BROWSER_ACCEPT,
    browser,
    csrf_headers,
    form_token,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.anyio

XSS_TITLE = '<script>alert("title")</script>树和喜鹊'
XSS_COMMENT = '<img src=x onerror=alert("comment")> 导入很好'
XSS_TOPIC = '<script>alert("topic")</script>**识字教学**'


async def _world(client: httpx.AsyncClient, context: AppContext) -> ReviewWorld:
    return await review_world(client, context)


# -- signing in ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/upload", "/mine", "/notifications", "/admin", "/admin/users"])
async def test_pages_that_need_an_account_send_guests_to_sign_in(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"{path}?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path.replace('/', '%2F')}%3Fx%3D1"


async def test_signing_in_sets_an_httponly_session_cookie_the_api_accepts(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    async with browser(context) as page:
        response = await sign_in(page, world.base.teacher)
        assert response.headers["location"] == "/"
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(cookie for cookie in cookies if cookie.startswith(f"{SESSION_COOKIE}="))
        csrf_cookie = next(cookie for cookie in cookies if cookie.startswith(f"{CSRF_COOKIE}="))
        assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
        assert "Secure" not in session_cookie  # public_base_url is http here
        assert "HttpOnly" not in csrf_cookie  # the pages' scripts read it

        me = await page.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["username"] == world.base.teacher.username
        home = await page.get("/")
        assert world.base.teacher.display_name in home.text


async def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    for target, expected in (
        ("/upload", "/upload"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ):
        async with browser(context) as page:
            form = await page.get("/login", params={"next": target})
            response = await page.post(
                "/login",
                data={
                    "username": world.base.teacher.username,
                    "password": "correct-horse-battery",
                    "csrf_token": form_token(form),
                    "next": target,
                },
            )
            assert response.status_code == 303
            assert response.headers["location"] == expected


async def test_a_wrong_password_shows_the_form_again_and_counts_towards_the_rate_limit(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    async with browser(context) as page:
        token = form_token(await page.get("/login"))
        statuses = []
        for _ in range(context.settings.login_max_failures + 1):
            response = await page.post(
                "/login",
                data={
                    "username": world.base.teacher.username,
                    "password": "wrong-password",
                    "csrf_token": token,
                },
            )
            statuses.append(response.status_code)
        assert statuses[:-1] == [401] * context.settings.login_max_failures
        assert "用户名或密码错误" in response.text or statuses[-1] == 429
        assert statuses[-1] == 429 and "登录失败次数过多" in response.text
        assert SESSION_COOKIE not in page.cookies
    # The API's own sign-in shares the same count.
    api = await client.post(
        "/api/v1/auth/token",
        data={"username": world.base.teacher.username, "password": "correct-horse-battery"},
    )
    assert api.status_code == 429


async def test_the_sign_in_form_needs_its_own_csrf_token(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    async with browser(context) as page:
        await page.get("/login")
        response = await page.post(
            "/login",
            data={
                "username": world.base.teacher.username,
                "password": "correct-horse-battery",
                "csrf_token": "x",
            },
        )
        assert response.status_code == 403
        assert SESSION_COOKIE not in page.cookies


async def test_signing_out_clears_both_cookies(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await _world(client, context)
    async with signed_in(context, world.base.teacher) as page:
        confirm = await page.get("/logout")
        assert confirm.status_code == 200
        refused = await page.post("/logout", data={"csrf_token": "forged"})
        assert refused.status_code == 403 and "没有权限" in refused.text
        response = await page.post("/logout", data={"csrf_token": form_token(confirm)})
        assert response.status_code == 303 and response.headers["location"] == "/"
        assert SESSION_COOKIE not in page.cookies and CSRF_COOKIE not in page.cookies
        assert (await page.get("/api/v1/me")).status_code == 401
        assert (await page.get("/upload")).status_code == 303


# -- CSRF on the API -------------------------------------------------------------------------------


async def test_unsafe_api_requests_by_cookie_need_the_csrf_header(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    topic = {"title": "识字教学研讨", "body": "大家怎么教识字？", "visibility": "district"}
    async with signed_in(context, world.base.teacher) as page:
        missing = await page.post("/api/v1/topics", json=topic)
        assert missing.status_code == 403
        assert missing.json()["error"]["code"] == "forbidden"
        assert CSRF_HEADER in missing.json()["error"]["message"]

        forged = await page.post("/api/v1/topics", json=topic, headers={CSRF_HEADER: "forged"})
        assert forged.status_code == 403

        created = await page.post("/api/v1/topics", json=topic, headers=csrf_headers(page))
        assert created.status_code == 201, created.text
        # Reading needs no header.
        assert (await page.get(f"/api/v1/topics/{created.json()['id']}")).status_code == 200

    # A token matching a cookie planted by someone else, but not this session, is refused too.
    async with signed_in(context, world.base.teacher) as page:
        page.cookies.delete(CSRF_COOKIE)
        page.cookies.set(CSRF_COOKIE, "planted")
        planted = await page.post("/api/v1/topics", json=topic, headers={CSRF_HEADER: "planted"})
        assert planted.status_code == 403

    # Bearer clients are unchanged: no cookie, no CSRF header.
    bearer = await client.post("/api/v1/topics", json=topic, headers=world.base.teacher_auth)
    assert bearer.status_code == 201


async def test_an_expired_cookie_is_a_guest_on_pages_and_401_on_the_api(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with browser(context) as page:
        page.cookies.set(SESSION_COOKIE, "not-a-token")
        home = await page.get("/")
        assert home.status_code == 200 and "登录" in home.text
        assert (await page.get("/api/v1/me")).status_code == 401


# -- what pages show -------------------------------------------------------------------------------


async def test_a_student_sees_no_draft_anywhere_in_the_pages(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    base = world.base
    published = await base.created(
        "树和喜鹊.pdf", samples.pdf_bytes(["树和喜鹊 识字"]), title="树和喜鹊 已发布", status="published"
    )
    draft = await base.created(
        "树和喜鹊草稿.pdf", samples.pdf_bytes(["树和喜鹊 草稿"]), title="树和喜鹊 草稿稿", status="draft"
    )
    await base.process()
    async with signed_in(context, base.student) as page:
        for path in ("/", "/search?q=树和喜鹊", "/search?q=shuhexique", "/search"):
            response = await page.get(path)
            assert response.status_code == 200, path
            assert "树和喜鹊 草稿稿" not in response.text, path
        results = await page.get("/search", params={"q": "树和喜鹊"})
        assert f"/resources/{published['id']}" in results.text
        hidden = await page.get(f"/resources/{draft['id']}")
        assert hidden.status_code == 404
        assert "页面不存在" in hidden.text and 'lang="zh-CN"' in hidden.text
        assert "树和喜鹊 草稿稿" not in hidden.text
        # The error page still shows who is signed in, not a sign-in button.
        assert base.student.display_name in hidden.text and 'href="/login' not in hidden.text
    async with signed_in(context, base.teacher) as page:
        own = await page.get(f"/resources/{draft['id']}")
        assert own.status_code == 200 and "树和喜鹊 草稿稿" in own.text and "草稿" in own.text


async def test_my_resources_lists_what_i_uploaded_drafts_too_and_nothing_else(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    base = (await _world(client, context)).base
    await base.created("草稿.pdf", samples.pdf_bytes(["草稿"]), title="我的草稿课件", status="draft")
    await base.created("发布.pdf", samples.pdf_bytes(["发布"]), title="我的已发布课件", status="published")
    await base.created(
        "同事.pdf",
        samples.pdf_bytes(["同事"]),
        title="同事的课件",
        status="published",
        auth=base.colleague_auth,
    )
    async with signed_in(context, base.teacher) as page:
        mine = (await page.get("/mine")).text
        assert "我的资源（2）" in mine and "我的草稿课件" in mine and "我的已发布课件" in mine
        assert "同事的课件" not in mine
        drafts = (await page.get("/mine", params={"status": "draft"})).text
        assert "我的草稿课件" in drafts and "我的已发布课件" not in drafts
        assert (await page.get("/mine", params={"status": "草稿"})).status_code == 422
    async with signed_in(context, base.student) as page:
        assert (await page.get("/mine")).status_code == 403


async def test_a_student_opens_a_lesson_recording_without_its_review(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    base = world.base
    lesson = await world.lesson(title="树和喜鹊 第1次试课", status="published")
    await world.commented(lesson["id"], base.colleague_auth, start_s=3, body="导入环节可以更短一些")
    async with signed_in(context, base.student) as page:
        response = await page.get(f"/resources/{lesson['id']}")
        assert response.status_code == 200, response.text
        assert "树和喜鹊 第1次试课" in response.text and "<video" in response.text
        assert "导入环节可以更短一些" not in response.text
    async with signed_in(context, base.colleague) as page:
        response = await page.get(f"/resources/{lesson['id']}")
        assert response.status_code == 200 and "导入环节可以更短一些" in response.text


async def test_only_who_may_change_a_resource_gets_its_edit_delete_and_attach_forms(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    base = (await _world(client, context)).base
    created = await base.created(
        "方程.pdf",
        samples.pdf_bytes(["一元一次方程"]),
        title="一元一次方程",
        status="published",
        grade=7,
        subject="数学",
        tags=["方程", "七年级"],
    )
    async with signed_in(context, base.teacher) as page:
        own = (await page.get(f"/resources/{created['id']}")).text
        assert "编辑资料" in own and 'data-method="DELETE"' in own and "data-attach-form" in own
        # The form starts from the resource's values.
        assert 'value="一元一次方程"' in own
        assert '<option value="7" selected>' in own and "<option selected>数学</option>" in own
        assert 'value="方程, 七年级"' in own
    async with signed_in(context, base.colleague) as page:
        other = (await page.get(f"/resources/{created['id']}")).text
        assert "一元一次方程" in other
        assert "编辑资料" not in other and 'data-method="DELETE"' not in other
        assert "data-attach-form" not in other


async def test_a_post_is_edited_by_its_author_and_deleted_by_its_author_or_a_moderator(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    base = world.base
    topic = await client.post(
        "/api/v1/topics", json={"title": "识字教学研讨", "body": "大家说说"}, headers=base.teacher_auth
    )
    assert topic.status_code == 201, topic.text
    topic_id = topic.json()["id"]
    post = await client.post(
        f"/api/v1/topics/{topic_id}/posts", json={"body": "字理识字"}, headers=base.colleague_auth
    )
    assert post.status_code == 201, post.text
    post_id = post.json()["id"]
    edit_form = f'data-method="PATCH" data-action="/api/v1/posts/{post_id}"'
    delete_form = f'data-method="DELETE" data-action="/api/v1/posts/{post_id}"'
    async with signed_in(context, base.colleague) as page:
        own = (await page.get(f"/topics/{topic_id}")).text
        assert edit_form in own and delete_form in own
    async with signed_in(context, base.teacher) as page:
        other = (await page.get(f"/topics/{topic_id}")).text
        assert "字理识字" in other and edit_form not in other and delete_form not in other
    async with signed_in(context, world.lead) as page:
        moderated = (await page.get(f"/topics/{topic_id}")).text
        assert edit_form not in moderated and delete_form in moderated


async def test_user_text_is_escaped_in_titles_comments_and_topics(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    base = world.base
    lesson = await world.lesson(title=XSS_TITLE, status="published")
    await world.commented(lesson["id"], base.colleague_auth, start_s=3, body=XSS_COMMENT)
    topic = await client.post(
        "/api/v1/topics",
        json={
            "title": XSS_TITLE,
            "body": XSS_TOPIC,
            "visibility": "district",
            "resource_ids": [lesson["id"]],
        },
        headers=base.teacher_auth,
    )
    assert topic.status_code == 201, topic.text
    topic_id = topic.json()["id"]
    await client.post(
        f"/api/v1/topics/{topic_id}/posts", json={"body": XSS_COMMENT}, headers=base.colleague_auth
    )
    await base.process()

    async with signed_in(context, base.teacher) as page:
        pages = [
            await page.get("/"),
            await page.get(f"/resources/{lesson['id']}"),
            await page.get("/search", params={"q": "树和喜鹊"}),
            await page.get("/topics"),
            await page.get(f"/topics/{topic_id}"),
            await page.get("/notifications"),
        ]
    for response in pages:
        assert response.status_code == 200, response.url
        # Even markup that slipped through could not run script from elsewhere or inline.
        assert "script-src 'self'" in response.headers["content-security-policy"]
        text = response.text
        assert "<script>alert" not in text, response.url
        assert "<img src=x" not in text, response.url
        assert "onerror=alert" not in text or "&lt;img" in text, response.url
    resource_page, topic_page = pages[1].text, pages[4].text
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;树和喜鹊" in resource_page
    assert "&lt;img src=x onerror=alert(&quot;comment&quot;)&gt;" in resource_page  # Markdown's escaping
    assert "<strong>识字教学</strong>" in topic_page  # Markdown still works
    assert "&lt;script&gt;alert(&quot;topic&quot;)&lt;/script&gt;" in topic_page
    search_page = pages[2].text
    assert "<mark>" in search_page and "&lt;script&gt;" in search_page


async def test_api_errors_stay_json_and_pages_get_chinese_error_pages(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    html = {"Accept": BROWSER_ACCEPT}
    api = await client.get(f"/api/v1/resources/{missing}", headers=html)
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    unknown_api = await client.get("/api/v1/no-such-endpoint", headers=html)
    assert unknown_api.headers["content-type"].startswith("application/json")
    # A path nothing answers: a page for a browser, the JSON shape for any other client.
    assert (await client.get("/no-such-page")).json()["error"]["code"] == "not_found"
    for path in (f"/resources/{missing}", f"/topics/{missing}"):
        # Page routes answer with pages whatever the client asks for.
        assert (await client.get(path)).headers["content-type"].startswith("text/html")
    for path in (f"/resources/{missing}", "/no-such-page", f"/topics/{missing}"):
        page = await client.get(path, headers=html)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        assert "页面不存在" in page.text
    invalid = await client.get("/resources/not-a-uuid")
    assert invalid.status_code == 422 and "请求参数有误" in invalid.text
    assert (await client.get("/healthz")).json()


async def test_a_student_is_refused_the_upload_and_admin_pages(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    async with signed_in(context, world.base.student) as page:
        for path in ("/upload", "/admin", "/admin/users"):
            response = await page.get(path)
            assert response.status_code == 403, path
            assert "没有权限" in response.text
        assert "上传资源" not in (await page.get("/")).text


async def test_search_page_links_a_subtitle_hit_to_its_second_and_counts_facets(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    base = world.base
    lesson = await world.lesson(title="树和喜鹊 第一课时", status="published", subject="语文", grade=2)
    video = next(file for file in lesson["versions"][0]["files"] if file["purpose"] == "primary")
    subtitle = await client.post(
        f"/api/v1/resources/{lesson['id']}/files",
        files=upload_form(
            {"purpose": "subtitle"},
            "字幕.srt",
            samples.srt_bytes([(1.0, 3.0, "同学们好"), (8.0, 11.0, "喜鹊在树上搭了一个窝")]),
        ),
        headers=base.teacher_auth,
    )
    assert subtitle.status_code == 201, subtitle.text
    await base.process()
    async with signed_in(context, base.colleague) as page:
        results = await page.get("/search", params={"q": "搭了一个窝"})
        assert results.status_code == 200
        # The cue is located in the video it subtitles: the link opens that video at the cue's second.
        assert f"/resources/{lesson['id']}?file={video['id']}&amp;t=8#player" in results.text
        assert "字幕 00:08" in results.text and "<mark>" in results.text
        assert "学科" in results.text and "语文" in results.text  # a facet with its count
        filtered = await page.get("/search", params={"q": "喜鹊", "subject": "数学"})
        assert "共 0 条结果" in filtered.text and "学科：数学" in filtered.text

        opened = await page.get(f"/resources/{lesson['id']}", params={"file": video["id"], "t": "8"})
        assert opened.status_code == 200
        assert f"{video['content_url']}#t=8.0" in opened.text
        assert "喜鹊在树上搭了一个窝" in opened.text  # the transcript
        assert 'data-seek="8.0"' in opened.text


async def test_every_page_renders_for_the_people_it_is_for(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    base = world.base
    rubric = await world.rubric()
    lesson = await world.lesson(title="树和喜鹊 第一课时", status="published")
    await world.commented(lesson["id"], base.colleague_auth, start_s=2, end_s=6, body="提问覆盖面可以更广")
    scored = await world.score(lesson["id"], 1, rubric, [8, 7, 4], base.colleague_auth)
    assert scored.status_code == 200, scored.text
    topic = await client.post(
        "/api/v1/topics", json={"title": "识字教学", "body": "讨论"}, headers=base.teacher_auth
    )
    document = await base.created("教案.pdf", samples.pdf_bytes(["第一页 导入", "第二页 识字"]), title="教案")
    await base.process()
    async with signed_in(context, base.colleague) as page:
        resource = await page.get(f"/resources/{lesson['id']}")
        assert resource.status_code == 200
        assert "提问覆盖面可以更广" in resource.text and "00:02–00:06" in resource.text
        assert "为第1次试课评分" in resource.text and "课堂观察量表" in resource.text
        assert "<svg" in resource.text and "各轮平均总分" in resource.text
        pdf = await page.get(f"/resources/{document['id']}", params={"page": 2})
        assert 'id="page-2" class="page-text target"' in pdf.text and "第二页 识字" in pdf.text
        for path in ("/", "/search", "/topics", f"/topics/{topic.json()['id']}", "/notifications", "/upload"):
            assert (await page.get(path)).status_code == 200, path
        upload_round = await page.get("/upload", params={"resource": lesson["id"]})
        assert upload_round.status_code == 403  # a colleague may read the lesson, not add rounds
    async with signed_in(context, base.teacher) as page:
        inbox = await page.get("/notifications")
        assert "评论了你的《树和喜鹊 第一课时》第1次试课 00:02" in inbox.text
        assert f"/resources/{lesson['id']}?v=1#comment-" in inbox.text
        assert (await page.get("/upload", params={"resource": lesson["id"]})).status_code == 200
    async with signed_in(context, world.admin) as page:
        for path in (
            "/admin",
            "/admin/schools",
            "/admin/users",
            "/admin/stats",
            "/admin/rubrics",
            "/admin/synonyms",
        ):
            response = await page.get(path)
            assert response.status_code == 200, path
        framework = (await page.get("/admin/rubrics")).text
        assert "课堂观察量表" in framework and "师生互动" in framework  # a rubric and a default category
        assert base.school.name in (await page.get("/admin/schools")).text
    async with signed_in(context, world.school_admin) as page:
        users = await page.get("/admin/users")
        assert users.status_code == 200 and base.teacher.username in users.text
        assert base.outsider.username not in users.text


async def test_research_statistics_page_counts_reviews_per_teacher_within_its_scope(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    base = world.base
    rubric = await world.rubric()
    lesson = await world.lesson(title="树和喜鹊 第一课时", status="published")
    await world.commented(lesson["id"], base.colleague_auth, start_s=2, body="提问覆盖面可以更广")
    assert (await world.score(lesson["id"], 1, rubric, [8, 7, 4], base.colleague_auth)).status_code == 200
    today = datetime.now(UTC).astimezone(CHINA_TIME).date()
    async with signed_in(context, world.lead) as page:
        district = await page.get("/admin/stats")
        assert district.status_code == 200, district.text
        assert base.school.name in district.text and base.colleague.display_name in district.text
        assert '<option value="">全区</option>' in district.text
        colleague_row = _row_of(district.text, base.colleague.display_name)
        # 发起研讨, 研讨发言, 评课意见, 量表评分, 课例, …
        assert colleague_row[:5] == ["0", "0", "1", "1", "0"]
        # Days in China time, the last one included.
        days = {"since": today.isoformat(), "until": today.isoformat()}
        within = (await page.get("/admin/stats", params=days)).text
        assert _row_of(within, base.colleague.display_name)[:5] == ["0", "0", "1", "1", "0"]
        earlier = {"until": (today - timedelta(days=1)).isoformat()}
        before = (await page.get("/admin/stats", params=earlier)).text
        assert _row_of(before, base.colleague.display_name)[:5] == ["0", "0", "0", "0", "0"]
        backwards = {"since": today.isoformat(), "until": (today - timedelta(days=2)).isoformat()}
        assert (await page.get("/admin/stats", params=backwards)).status_code == 422
        assert (await page.get("/admin/stats", params={"since": "0001-01-01"})).status_code == 422
        assert (await page.get("/admin/stats", params={"since": "昨天"})).status_code == 422
        # The filter form sends its blank fields too: for a page they are no filter.
        blank = await page.get("/admin/stats?school_id=&since=&until=&page=")
        assert blank.status_code == 200 and base.colleague.display_name in blank.text
        assert (await page.get("/admin/users?q=&role=&school_id=")).status_code == 403  # not an admin
        # The API keeps its strictness.
        api = await page.get("/api/v1/research/stats?school_id=")
        assert api.status_code == 422 and api.json()["error"]["code"] == "invalid_payload"
    async with signed_in(context, world.school_admin) as page:
        assert (await page.get("/admin/users?q=&role=&school_id=")).status_code == 200
        own = await page.get("/admin/stats")
        assert own.status_code == 200 and base.colleague.display_name in own.text
        assert base.outsider.display_name not in own.text and "全区" not in own.text
        other = await page.get("/admin/stats", params={"school_id": str(base.outsider.school_id)})
        assert other.status_code == 403
    async with signed_in(context, base.teacher) as page:
        assert (await page.get("/admin/stats")).status_code == 403


def _row_of(html: str, name: str) -> list[str]:
    """The number cells of the table row whose heading starts with `name`."""
    row = html.split(f'<th scope="row">{name} ', 1)[1].split("</tr>", 1)[0]
    return re.findall(r'<td class="number">([^<]*)</td>', row)


async def test_mention_completion_lists_colleagues_but_not_for_students(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    base = world.base
    found = await client.get(
        "/api/v1/users/mentionable",
        params={"q": base.colleague.username, "visibility": "school"},
        headers=base.teacher_auth,
    )
    assert found.status_code == 200
    assert found.json() == [
        {
            "id": str(base.colleague.id),
            "username": base.colleague.username,
            "display_name": base.colleague.display_name,
        }
    ]
    refused = await client.get(
        "/api/v1/users/mentionable", params={"q": "user", "visibility": "school"}, headers=base.student_auth
    )
    assert refused.status_code == 403


async def test_a_guest_with_a_share_link_watches_the_lesson_but_sees_no_review(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await _world(client, context)
    lesson = await world.lesson(title="分享的课例", status="published", visibility="school")
    await world.commented(lesson["id"], world.base.colleague_auth, start_s=1, body="内部评课意见")
    link = await client.post(
        "/api/v1/share-links",
        json={"object_type": "resource", "object_id": lesson["id"]},
        headers=world.base.teacher_auth,
    )
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    async with browser(context) as guest:
        assert (await guest.get(f"/resources/{lesson['id']}")).status_code == 404
        page = await guest.get(f"/resources/{lesson['id']}", params={"share": token})
        assert page.status_code == 200
        assert f"/content?share={token}" in page.text
        assert "内部评课意见" not in page.text
        video = next(file for file in lesson["versions"][0]["files"] if file["purpose"] == "primary")
        content = await guest.get(f"{video['content_url']}?share={token}", headers={"Range": "bytes=0-99"})
        assert content.status_code == 206
