"""Helpers for browser tests: a signed-in page per person, screenshots kept as test artifacts."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.live_district import wait_for
from tests.web.site import Site

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
# The worker processes uploads in the background; a page waits this long for it.
PROCESSING_TIMEOUT_MS = 90_000


def wait_until_searchable(api: httpx.Client, text: str) -> None:
    """Until a search for `text` finds something: the worker indexes a change after it is stored,
    and on Elasticsearch its write becomes searchable with the index's next scheduled refresh."""
    wait_for(
        lambda: api.get("/api/v1/search", params={"q": text}).json()["total"] > 0,
        PROCESSING_TIMEOUT_MS / 1000,
        f"a search finding {text!r}",
        interval_s=0.3,
    )


def open_page(browser: Browser, site: Site, *, viewport: ViewportSize = DESKTOP) -> Page:
    context = browser.new_context(base_url=site.url, locale="zh-CN", viewport=viewport)
    context.set_default_timeout(15_000)
    return context.new_page()


def signed_in_page(browser: Browser, site: Site, person: str, *, viewport: ViewportSize = DESKTOP) -> Page:
    """A browser of its own for one person, signed in through the login form."""
    who = site.people[person]
    page = open_page(browser, site, viewport=viewport)
    page.goto("/login")
    page.get_by_label("用户名").fill(who.username)
    page.get_by_label("密码").fill(who.password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who")).to_contain_text(who.display_name)
    return page


def screenshot(page: Page, site: Site, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{site.kind}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def video_time(page: Page) -> float:
    seconds: float = page.eval_on_selector("#lesson-video", "video => video.currentTime")
    return seconds


def wait_for_video_time(page: Page, seconds: float, tolerance: float = 0.6) -> None:
    """The player has its metadata and stands at `seconds` (seeking works through Range requests)."""
    page.wait_for_function(
        "([target, tolerance]) => { const video = document.getElementById('lesson-video');"
        " return video && video.readyState >= 1 && Math.abs(video.currentTime - target) <= tolerance; }",
        arg=[seconds, tolerance],
    )
