"""Curation in a browser: a district admin marks a lesson 区级优秀课例 from its page (the badge, the
search facet and the home page show it); a teacher builds a collection (creates it, adds two lessons
found by search, reorders them, views it) and plays it in order, the next lesson after one ends."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, expect

from tests import samples
from tests.live_district import wait_for
from tests.web.axe import serious_violations
from tests.web.browsing import screenshot, signed_in_page
from tests.web.site import Site

# How long the worker may take to bring a change to search.
TIMEOUT_S = 60
TITLES = ("时钟王国 第一课 认识整时", "时钟王国 第二课 认识半时")


def _lessons(site: Site) -> list[str]:
    ids = []
    with site.api("teacher") as api:
        for title in TITLES:
            metadata = {
                "title": title,
                "resource_type": "micro_lesson",
                "status": "published",
                "visibility": "district",
                "grade": 1,
                "subject": "数学",
            }
            created = api.post(
                "/api/v1/resources",
                files={
                    "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                    "file": ("微课.mp4", samples.mp4_bytes(duration_s=1.0), "video/mp4"),
                },
            )
            created.raise_for_status()
            ids.append(created.json()["id"])
        site.approve_publishing(ids)
        wait_for(
            lambda: api.get("/api/v1/search", params={"q": "时钟王国"}).json()["total"] >= 2,
            TIMEOUT_S,
            "both lessons in search",
            interval_s=0.3,
        )
    return ids


def test_exemplary_badge_facet_and_a_collection_built_and_played(browser: Browser, site: Site) -> None:
    first, _ = _lessons(site)

    # The district admin marks the first lesson from its page.
    admin = signed_in_page(browser, site, "admin")
    admin.goto(f"/resources/{first}")
    admin.get_by_text("评优与精选").click()
    admin.get_by_label("级别").select_option("district")
    admin.get_by_label("年份").fill("2026")
    admin.get_by_role("button", name="评为优秀课例").click()
    expect(admin.locator("[data-showcase-badge]")).to_contain_text("2026 年区级优秀课例")
    admin.get_by_text("评优与精选").click()  # the page reloaded, the panel closed
    admin.get_by_role("button", name="设为精选").click()
    expect(admin.locator("[data-showcase-badge]")).to_contain_text("精选")
    with site.api("teacher") as api:
        wait_for(
            lambda: any(
                value["value"] == "district"
                for value in api.get("/api/v1/search", params={"q": "时钟王国"}).json()["facets"][
                    "exemplary_level"
                ]
            ),
            TIMEOUT_S,
            "the district level among the facets",
            interval_s=0.3,
        )

    # A colleague sees the badge and the facet in search, and the lesson on the home page.
    colleague = signed_in_page(browser, site, "colleague")
    colleague.goto("/search?q=时钟王国")
    expect(colleague.locator(".hit").first).to_contain_text("2026 年区级优秀课例")
    expect(colleague.locator(".hit h3").first).to_contain_text(TITLES[0])  # boosted above the other
    facet = colleague.get_by_role("link", name=re.compile("^区级"))
    facet.click()
    expect(colleague.locator(".hit h3")).to_have_text([TITLES[0]])
    screenshot(colleague, site, "exemplary-facet")
    colleague.goto("/")
    expect(colleague.locator("#exemplary-title + ul")).to_contain_text(TITLES[0])
    expect(colleague.locator("#featured-title + ul")).to_contain_text(TITLES[0])

    # The teacher builds a collection: create, add both lessons from a search, reorder, view.
    teacher = signed_in_page(browser, site, "teacher")
    teacher.goto("/collections")
    form = teacher.locator("#new-collection")
    form.get_by_label("标题").fill("一年级认识时间资源包")
    form.get_by_label("简介").fill("整时与半时，两节微课")
    form.get_by_label("可见范围").select_option("school")
    form.get_by_role("button", name="创建").click()
    expect(teacher.get_by_role("heading", name="编辑资源包")).to_be_visible()
    teacher.get_by_label("搜索资源").fill("时钟王国")
    teacher.get_by_role("button", name="搜索").click()
    teacher.get_by_role("button", name=f"加入 {TITLES[0]}").click()
    expect(teacher.locator("[data-order-list] li")).to_have_count(1)
    teacher.get_by_role("button", name=f"加入 {TITLES[1]}").click()
    expect(teacher.locator("[data-order-list] li")).to_have_count(2)
    expect(teacher.locator("[data-order-list] .item-title")).to_have_text(list(TITLES))
    teacher.get_by_role("button", name=f"上移 {TITLES[1]}").click()
    expect(teacher.locator("[data-order-list] .item-title")).to_have_text([TITLES[1], TITLES[0]])
    assert serious_violations(teacher) == []
    screenshot(teacher, site, "collection-editor")
    teacher.get_by_role("link", name="← 查看资源包").click()
    expect(teacher.get_by_role("heading", name="一年级认识时间资源包")).to_be_visible()
    expect(teacher.locator(".collection-items > li > a:first-child")).to_have_text([TITLES[1], TITLES[0]])
    expect(teacher.locator(".collection-items")).to_contain_text("2026 年区级优秀课例")
    assert serious_violations(teacher) == []
    screenshot(teacher, site, "collection")

    # A student of the school follows it and plays it in order: when a lesson ends, the next begins.
    student = signed_in_page(browser, site, "student")
    student.goto(teacher.url)
    student.get_by_role("button", name="关注").click()
    expect(student.get_by_role("button", name="已关注")).to_be_visible()
    student.get_by_role("link", name="▶ 按顺序播放").click()
    expect(student.locator("#lesson-title")).to_contain_text(TITLES[1])
    student.wait_for_function("() => document.querySelector('video').readyState >= 1")
    student.eval_on_selector("video", "video => video.dispatchEvent(new Event('ended'))")
    expect(student.locator("#lesson-title")).to_contain_text(TITLES[0])
    expect(student.get_by_text("这是最后一课。")).to_be_visible()
    assert serious_violations(student) == []
