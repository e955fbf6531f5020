"""On a slow connection a page shows its buttons before its scripts have loaded: a form sent in that
moment is held and sent once they have, never sent natively (which would reload the page with what
was typed in its address and lose it)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests import samples
from tests.factories import upload_form
from tests.web.browsing import signed_in_page
from tests.web.site import Site

# Each round trip this long: the page's modules arrive two or three round trips after its buttons.
LATENCY_MS = 700


def test_a_form_sent_before_the_scripts_have_loaded_is_sent_once_they_have(
    browser: Browser, site: Site
) -> None:
    metadata = {"title": "慢网络 收藏测试", "resource_type": "courseware", "status": "published"}
    with site.api("teacher") as api:
        created = api.post(
            "/api/v1/resources", files=upload_form(metadata, "课件.pdf", samples.pdf_bytes(["慢网络"]))
        )
        created.raise_for_status()
        resource_id = created.json()["id"]

    teacher = signed_in_page(browser, site, "teacher")
    network = teacher.context.new_cdp_session(teacher)
    network.send("Network.enable")
    network.send("Network.setCacheDisabled", {"cacheDisabled": True})
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": LATENCY_MS, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    # When the button was first clicked and the scripts first ran, kept across the page's reload.
    teacher.add_init_script(
        "const first = (key) => sessionStorage.getItem(key) || sessionStorage.setItem(key, Date.now());"
        "addEventListener('click', () => first('clickedAt'), true);"
        "document.addEventListener('DOMContentLoaded', () => first('scriptsRanAt'));"
    )
    teacher.goto(f"/resources/{resource_id}", wait_until="commit")
    teacher.get_by_role("button", name=re.compile("收藏$")).click()

    expect(teacher.get_by_role("button", name=re.compile("已收藏$"))).to_be_visible(timeout=30_000)
    assert "?" not in teacher.url
    clicked_at, scripts_ran_at = teacher.evaluate(
        "[sessionStorage.getItem('clickedAt'), sessionStorage.getItem('scriptsRanAt')].map(Number)"
    )
    assert clicked_at < scripts_ran_at
    with site.api("teacher") as api:
        favorites = api.get("/api/v1/me/favorites").json()
    assert [item["resource_id"] for item in favorites["items"]] == [resource_id]
