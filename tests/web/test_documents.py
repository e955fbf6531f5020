"""A photographed exam paper is read by OCR: a student finds it by its words and sees where its
text came from, in a browser."""

from __future__ import annotations

import json
import time

from playwright.sync_api import Browser, expect

from tests.services.documents import generated
from tests.web.browsing import PROCESSING_TIMEOUT_MS, screenshot, signed_in_page
from tests.web.site import Site

LINES = ("期中考试试卷", "第三单元练习题")


def test_a_photographed_exam_is_found_by_its_words_and_says_its_text_was_recognised(
    browser: Browser, site: Site
) -> None:
    metadata = {"title": "三年级语文 单元测验", "resource_type": "exam", "status": "published"}
    with site.api("teacher") as api:
        created = api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("试卷.jpg", generated.phone_photo(LINES), "image/jpeg"),
            },
        )
        created.raise_for_status()
        resource_id = created.json()["id"]
        deadline = time.monotonic() + PROCESSING_TIMEOUT_MS / 1000
        while api.get(f"/api/v1/resources/{resource_id}").json()["processing_status"] == "pending":
            assert time.monotonic() < deadline, "the photo was not processed in time"
            time.sleep(0.5)

    student = signed_in_page(browser, site, "student")
    student.goto("/search?q=第三单元练习题")
    result = student.get_by_role("link", name="三年级语文 单元测验")
    expect(result.first).to_be_visible()
    result.first.click()
    student.wait_for_url(f"**/resources/{resource_id}**")
    text = student.get_by_role("region", name="图中文字")
    expect(text).to_contain_text("第三单元练习题")
    expect(text.locator("[data-text-source=ocr]")).to_have_text("识别文字")
    expect(text).to_contain_text("置信度")
    screenshot(student, site, "picture-ocr")
