"""axe-core in the main pages, desktop and phone width: no serious or critical accessibility violations,
and every page keeps its landmarks, its language and keyboard focus that can be seen."""

from __future__ import annotations

import json
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests import samples
from tests.web.browsing import PHONE, open_page, signed_in_page
from tests.web.site import Site

SERIOUS = frozenset({"serious", "critical"})


def _lesson_and_topic(site: Site) -> tuple[str, str]:
    """Through the API: a published lesson with subtitles, processed, and a topic with a post."""
    with site.api("teacher") as api:
        metadata = {
            "title": "无障碍检查 课例",
            "resource_type": "lesson_record",
            "status": "published",
            "grade": 2,
        }
        lesson = api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("课例.mp4", samples.mp4_bytes(duration_s=4.0), "video/mp4"),
            },
        )
        lesson.raise_for_status()
        lesson_id: str = lesson.json()["id"]
        api.post(
            f"/api/v1/resources/{lesson_id}/files",
            files={
                "metadata": (None, '{"purpose": "subtitle"}', "application/json"),
                "file": ("字幕.srt", samples.srt_bytes([(0.5, 2.0, "无障碍检查")]), "text/plain"),
            },
        ).raise_for_status()
        topic = api.post("/api/v1/topics", json={"title": "无障碍检查 研讨", "body": "**内容**"})
        topic.raise_for_status()
        topic_id: str = topic.json()["id"]
        api.post(f"/api/v1/topics/{topic_id}/posts", json={"body": "一条回复"}).raise_for_status()
    with site.api("colleague") as api:
        api.post(
            f"/api/v1/resources/{lesson_id}/comments", json={"start_s": 1, "body": "评课"}
        ).raise_for_status()
    return lesson_id, topic_id


def _serious_violations(page: Page) -> list[dict[str, Any]]:
    results = Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in violations
        if violation["impact"] in SERIOUS
    ]


def _check(page: Page, path: str) -> list[str]:
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("header.site-header")).to_have_count(1)
    expect(page.locator("main#main")).to_have_count(1)
    expect(page.locator("nav[aria-label='主导航']")).to_have_count(1)
    return [f"{path}: {violation}" for violation in _serious_violations(page)]


def test_the_main_pages_have_no_serious_accessibility_violations(browser: Browser, site: Site) -> None:
    lesson_id, topic_id = _lesson_and_topic(site)
    problems: list[str] = []
    guest = open_page(browser, site)
    for path in ("/", "/login", "/search?q=无障碍"):
        problems += _check(guest, path)
    teacher = signed_in_page(browser, site, "teacher")
    colleague = signed_in_page(browser, site, "colleague")
    admin = signed_in_page(browser, site, "admin")
    phone = signed_in_page(browser, site, "colleague", viewport=PHONE)
    for page, path in (
        (teacher, "/upload"),
        (teacher, "/notifications"),
        (teacher, "/mine"),
        (colleague, f"/resources/{lesson_id}"),
        (colleague, "/search?q=无障碍检查"),
        (colleague, "/topics"),
        (colleague, f"/topics/{topic_id}"),
        (admin, "/admin"),
        (admin, "/admin/schools"),
        (admin, "/admin/users"),
        (admin, "/admin/stats"),
        (admin, "/admin/rubrics"),
        (admin, "/admin/synonyms"),
        (phone, f"/resources/{lesson_id}"),
        (phone, "/"),
    ):
        problems += _check(page, path)
    assert not problems, "\n".join(problems)


def test_the_keyboard_reaches_the_content_with_a_visible_focus(browser: Browser, site: Site) -> None:
    page = open_page(browser, site)
    page.goto("/search")
    # The first Tab lands on the skip link, which then takes focus into the main content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到主要内容")
    expect(skip).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused link shows no outline"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("combobox", name="检索资源")).to_be_focused()
