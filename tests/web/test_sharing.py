"""Share links on a resource's page, and signing out everywhere, in a browser."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, expect

from tests import samples
from tests.web.browsing import open_page, screenshot, signed_in_page
from tests.web.site import Site


def test_the_owner_shares_sees_every_link_and_revokes_an_administrators(browser: Browser, site: Site) -> None:
    metadata = {
        "title": "分享用 教案",
        "resource_type": "lesson_plan",
        "status": "published",
        "visibility": "school",
    }
    with site.api("teacher") as api:
        created = api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("教案.pdf", samples.pdf_bytes(["分享"]), "application/pdf"),
            },
        )
        created.raise_for_status()
        resource_id = created.json()["id"]
    with site.api("admin") as api:
        by_admin = api.post("/api/v1/share-links", json={"object_type": "resource", "object_id": resource_id})
        by_admin.raise_for_status()
    admin_path = f"/resources/{resource_id}?share={by_admin.json()['token']}"

    teacher = signed_in_page(browser, site, "teacher")
    teacher.goto(f"/resources/{resource_id}")
    panel = teacher.locator("section.share-links")
    teacher.get_by_label("有效期").select_option("168")
    teacher.get_by_role("button", name="创建分享链接").click()
    links = panel.locator("[data-share-link]")
    expect(links).to_have_count(2)
    own_url = panel.locator("input.share-url")
    expect(own_url).to_have_count(1)  # only the teacher's own link shows its address
    expect(links.filter(has_text=site.people["admin"].display_name)).to_have_count(1)
    screenshot(teacher, site, "resource-share-links")
    own_path = re.sub(r"^https?://[^/]+", "", own_url.input_value())

    guest = open_page(browser, site)
    guest.goto(own_path)
    expect(guest.get_by_role("heading", name="分享用 教案")).to_be_visible()
    guest.goto(admin_path)
    expect(guest.get_by_role("heading", name="分享用 教案")).to_be_visible()

    teacher.once("dialog", lambda dialog: dialog.accept())
    links.filter(has_text=site.people["admin"].display_name).get_by_role(
        "button", name=re.compile("撤销")
    ).click()
    expect(links).to_have_count(1)
    response = guest.goto(admin_path)
    assert response is not None and response.status == 404
    guest.goto(own_path)
    expect(guest.get_by_role("heading", name="分享用 教案")).to_be_visible()


def test_signing_out_everywhere_ends_the_other_browsers_session(browser: Browser, site: Site) -> None:
    laptop = signed_in_page(browser, site, "colleague")
    phone = signed_in_page(browser, site, "colleague")
    laptop.goto("/logout")
    laptop.get_by_role("button", name="退出所有设备").click()
    expect(laptop.get_by_role("banner").get_by_role("link", name="登录")).to_be_visible()
    phone.goto("/mine")
    expect(phone).to_have_url(re.compile(r"/login"))
