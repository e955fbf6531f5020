"""Search that forgives, in the browser: 你要找的是不是… after a homophone typo, and the curriculum
positions read from the query shown as chips that can be removed."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Browser, expect

from tests import samples
from tests.live_district import wait_for
from tests.web.browsing import screenshot, signed_in_page
from tests.web.site import Site
from tests.web.test_accessibility import _serious_violations

LESSONS = {
    "falls": ("望庐山瀑布 赏析课件", "第二单元"),
    "spring": ("春 朗读指导课件", "第一单元"),
}


def _lessons(site: Site) -> None:
    with site.api("teacher") as api:
        for title, unit in LESSONS.values():
            metadata = {
                "title": title,
                "resource_type": "courseware",
                "status": "published",
                "visibility": "district",
                "grade": 7,
                "subject": "语文",
                "volume": "上册",
                "unit": unit,
            }
            api.post(
                "/api/v1/resources",
                files={
                    "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                    "file": ("课件.pdf", samples.pdf_bytes([title]), "application/pdf"),
                },
            ).raise_for_status()
        wait_for(
            lambda: api.get("/api/v1/search", params={"q": "七年级上册"}).json()["total"] >= len(LESSONS),
            60,
            "the lessons in the search index",
            interval_s=0.5,
        )


def test_did_you_mean_and_understood_chips(browser: Browser, site: Site) -> None:
    _lessons(site)
    page = signed_in_page(browser, site, "teacher")

    page.goto("/search?q=望庐山瀑不")
    # The homophone typo still finds the lesson, and the page offers the correction.
    expect(page.locator(".hit h3")).to_have_text([LESSONS["falls"][0]])
    offer = page.locator(".did-you-mean")
    expect(offer).to_contain_text("你要找的是不是")
    screenshot(page, site, "search-did-you-mean")
    assert _serious_violations(page) == []
    offer.get_by_role("link", name="望庐山瀑布").click()
    page.wait_for_url(re.compile(r"/search\?q="))
    assert parse_qs(urlparse(page.url).query)["q"] == ["望庐山瀑布"]
    expect(page.locator(".hit h3")).to_have_text([LESSONS["falls"][0]])
    expect(page.locator(".did-you-mean")).to_have_count(0)

    page.goto("/search?q=七年级上册第二单元")
    chips = page.locator("ul.understood li")
    expect(chips).to_have_text(["年级：七年级 ×", "册次：上册 ×", "单元：第二单元 ×"])
    expect(page.locator(".hit h3")).to_have_text([LESSONS["falls"][0]])
    screenshot(page, site, "search-understood")
    assert _serious_violations(page) == []
    # Without the unit, both lessons of 七年级上册.
    page.get_by_role("link", name="不按单元：第二单元筛选").click()
    page.wait_for_url(re.compile(r"/search\?q="))
    assert parse_qs(urlparse(page.url).query)["q"] == ["七年级上册"]
    expect(chips).to_have_text(["年级：七年级 ×", "册次：上册 ×"])
    expect(page.locator(".hit h3")).to_have_count(2)
    # Without the grade, the volume stays as a filter of its own.
    page.get_by_role("link", name="不按年级：七年级筛选").click()
    page.wait_for_url(re.compile(r"volume="))
    query = parse_qs(urlparse(page.url).query)
    assert "q" not in query and query["volume"] == ["上册"]
    expect(chips).to_have_count(0)
