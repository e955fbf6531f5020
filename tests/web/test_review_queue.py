"""Approval before district-wide publishing in a browser: a research lead works through the queue
with the keyboard (j/k, a, r + reason), and the teacher reads the decision on the resource page."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, expect

from tests import samples
from tests.web.browsing import screenshot, signed_in_page
from tests.web.site import Person, Site
from tests.web.test_accessibility import _serious_violations

TITLES = ("分数的初步认识 审核甲", "分数的初步认识 审核乙")


def _lead_and_requests(site: Site) -> dict[str, str]:
    """A 数学 research lead (assigned by the admin) and two 数学 resources the teacher publishes to
    the district; their ids by title."""
    lead = Person("zhao.jiaoyan", "赵教研员", "research_lead")
    with site.api("admin") as admin:
        created = admin.post(
            "/api/v1/users",
            json={
                "username": lead.username,
                "display_name": lead.display_name,
                "password": lead.password,
                "role": lead.role,
            },
        )
        created.raise_for_status()
        admin.post(
            "/api/v1/review/leads", json={"user_id": created.json()["id"], "subject": "数学"}
        ).raise_for_status()
    site.people["math_lead"] = lead
    ids = {}
    with site.api("teacher") as teacher:
        for title in TITLES:
            metadata = {
                "title": title,
                "resource_type": "lesson_plan",
                "status": "published",
                "visibility": "district",
                "grade": 3,
                "subject": "数学",
            }
            response = teacher.post(
                "/api/v1/resources",
                files={
                    "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                    "file": ("教案.pdf", samples.pdf_bytes([f"{title} 教学过程"]), "application/pdf"),
                },
            )
            response.raise_for_status()
            assert response.json()["visibility"] == "school"
            ids[title] = response.json()["id"]
    return ids


def test_a_lead_reviews_the_queue_with_the_keyboard(browser: Browser, site: Site) -> None:
    ids = _lead_and_requests(site)
    lead = signed_in_page(browser, site, "math_lead")
    badge = lead.locator("[data-review-badge]")
    expect(badge).to_be_visible()
    expect(lead.locator("[data-review-count]")).to_have_text("2")
    lead.get_by_role("link", name=re.compile("^审核")).click()
    lead.wait_for_url(re.compile(r"/review"))
    heading = lead.locator("#review-item-title")
    expect(heading).to_have_text(TITLES[0])
    expect(lead.locator("[data-review-item]")).to_have_count(2)
    screenshot(lead, site, "review-queue")
    assert _serious_violations(lead) == []

    lead.keyboard.press("j")
    expect(heading).to_have_text(TITLES[1])
    lead.keyboard.press("k")
    expect(heading).to_have_text(TITLES[0])

    # a: approve the first; the queue moves on to the next.
    lead.keyboard.press("a")
    expect(lead.locator("[data-review-item]")).to_have_count(1)
    expect(heading).to_have_text(TITLES[1])
    expect(lead.locator("[data-review-count]")).to_have_text("1")

    # r: the reason box takes the focus; Ctrl+Enter rejects with it.
    lead.keyboard.press("r")
    reason = lead.get_by_label("原因（不通过或退回时必填）")
    expect(reason).to_be_focused()
    lead.keyboard.type("请补充例题和练习")
    lead.keyboard.press("Control+Enter")
    expect(lead.locator("[data-review-empty]")).to_be_visible()
    expect(lead.locator("[data-review-badge]")).to_be_hidden()

    with site.api("teacher") as teacher:
        first = teacher.get(f"/api/v1/review/subjects/resource/{ids[TITLES[0]]}").json()["request"]
        second = teacher.get(f"/api/v1/review/subjects/resource/{ids[TITLES[1]]}").json()["request"]
        assert first["state"] == "approved"
        assert (second["state"], second["reason"]) == ("rejected", "请补充例题和练习")
        assert teacher.get(f"/api/v1/resources/{ids[TITLES[0]]}").json()["visibility"] == "district"

    # The teacher reads the decision and its reason on the resource page, and resubmits.
    owner = signed_in_page(browser, site, "teacher")
    owner.goto(f"/resources/{ids[TITLES[1]]}")
    state = owner.locator("[data-review-state]")
    expect(state).to_contain_text("未通过")
    expect(state).to_contain_text("请补充例题和练习")
    screenshot(owner, site, "review-rejected")
    assert _serious_violations(owner) == []
    owner.get_by_role("button", name="修改后重新提交审核").click()
    expect(owner.locator("[data-review-state]")).to_contain_text("待审核")
    lead.reload()
    expect(lead.locator("[data-review-item]")).to_have_count(1)
