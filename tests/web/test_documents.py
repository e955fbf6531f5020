"""A photographed exam paper is read by OCR: a student finds it by its words and sees where its
text came from, in a browser."""

from __future__ import annotations

import json
import time

from playwright.sync_api import Browser, expect

from tests.services.documents import generated
from tests.web.browsing import (
    PROCESSING_TIMEOUT_MS,
    screenshot,
    signed_in_page,
    wait_for_video_time,
    wait_until_searchable,
)
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
        wait_until_searchable(api, "第三单元练习题")

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


def test_a_slide_recording_lists_its_screens_and_search_opens_the_second_a_slide_appears(
    browser: Browser, site: Site
) -> None:
    metadata = {"title": "小蝌蚪找妈妈 课堂实录", "resource_type": "lesson_record", "status": "published"}
    video = generated.slide_video((("第一课 小蝌蚪找妈妈",), ("课堂练习 青蛙的成长过程",)))
    with site.api("teacher") as api:
        created = api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("实录.mp4", video, "video/mp4"),
            },
        )
        created.raise_for_status()
        resource_id = created.json()["id"]
        file_id = created.json()["versions"][0]["files"][0]["id"]
        deadline = time.monotonic() + PROCESSING_TIMEOUT_MS / 1000
        screens_url = f"/api/v1/resources/{resource_id}/files/{file_id}/screens"
        while len(api.get(screens_url).json()) < 2:
            assert time.monotonic() < deadline, "the screens were not read in time"
            time.sleep(0.5)
        wait_until_searchable(api, "青蛙的成长过程")

    student = signed_in_page(browser, site, "student")
    student.goto("/search?q=青蛙的成长过程")
    expect(student.get_by_text("画面 00:04").first).to_be_visible()
    student.goto(f"/resources/{resource_id}")
    screens = student.get_by_role("region", name="画面文字")
    expect(screens.get_by_role("listitem")).to_have_count(2)
    expect(screens.get_by_role("listitem").nth(1)).to_contain_text("课堂练习青蛙的成长过程")
    thumbnail = screens.get_by_role("img").nth(1)
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("image => image.naturalWidth") > 0
    screens.get_by_role("button", name="跳到 00:04").click()
    wait_for_video_time(student, 4.0)
    screenshot(student, site, "screen-text")
