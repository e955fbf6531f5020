"""The lesson player in Chromium: the original plays at once, then the HLS ladder (hls.js) takes
over at the same second; the quality menu switches renditions and back to the original; comment
jumps keep working; the storyboard previews on hover and sits beside the comments."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests import samples
from tests.web.browsing import (
    PROCESSING_TIMEOUT_MS,
    screenshot,
    signed_in_page,
    video_time,
    wait_for_video_time,
)
from tests.web.site import Site


def _lesson(site: Site) -> tuple[str, str]:
    """A 12-second lesson with sound, uploaded as MKV (as OBS records), and its renditions made."""
    with site.api("teacher") as api:
        metadata = {
            "title": "认识钟表 第一课时",
            "resource_type": "lesson_record",
            "grade": 1,
            "visibility": "school",
            "status": "published",
        }
        response = api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": (
                    "认识钟表.mkv",
                    samples.video_bytes("matroska", duration_s=12.0, fps=10, with_audio=True),
                ),
            },
        )
        response.raise_for_status()
        resource: dict[str, Any] = response.json()
        file_id = resource["versions"][0]["files"][0]["id"]
        deadline = time.monotonic() + PROCESSING_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            status = api.get(f"/api/v1/resources/{resource['id']}/files/{file_id}/video").json()
            if status.get("status") in ("ready", "failed"):
                break
            time.sleep(0.3)
        assert status["status"] == "ready", status
    with site.api("colleague") as api:
        comment = api.post(
            f"/api/v1/resources/{resource['id']}/comments",
            json={"version": 1, "start_s": 9.0, "body": "这里提问很好"},
            headers={"Content-Type": "application/json"},
        )
        comment.raise_for_status()
    return resource["id"], file_id


def _source(page: Page) -> str:
    value: str = page.eval_on_selector("#lesson-video", "video => video.dataset.source || ''")
    return value


def test_the_hls_ladder_plays_and_quality_switches(browser: Browser, site: Site) -> None:
    resource_id, file_id = _lesson(site)
    page = signed_in_page(browser, site, "colleague")
    page.goto(f"/resources/{resource_id}?t=4")
    menu = page.get_by_label("清晰度")
    expect(menu).to_be_visible()
    assert [option.strip() for option in menu.locator("option").all_inner_texts()] == [
        "自动",
        "120p",
        "240p",
        "原画",
    ]
    page.wait_for_function("() => document.getElementById('lesson-video').dataset.source === 'hls'")
    # hls.js feeds the element through Media Source Extensions, starting at the #t= second.
    page.wait_for_function("() => document.getElementById('lesson-video').currentSrc.startsWith('blob:')")
    wait_for_video_time(page, 4.0)
    page.eval_on_selector("#lesson-video", "video => { video.muted = true; return video.play(); }")
    page.wait_for_function("() => document.getElementById('lesson-video').currentTime > 4.8")

    menu.select_option("120p")
    page.wait_for_function("() => document.getElementById('lesson-video').dataset.level === '120p'")
    assert _source(page) == "hls"

    menu.select_option("original")
    page.wait_for_function("() => document.getElementById('lesson-video').currentSrc.includes('/content')")
    assert _source(page) == "original"
    page.wait_for_function("() => document.getElementById('lesson-video').readyState >= 1")
    assert video_time(page) >= 4.0  # the position survived the switch

    menu.select_option("auto")
    page.wait_for_function("() => document.getElementById('lesson-video').currentSrc.startsWith('blob:')")

    # Comment jumps and the storyboard.
    comment = page.locator(".timeline .comment").first
    expect(comment.locator(".comment-thumb")).to_be_visible()
    comment.get_by_role("button", name="跳到 00:09").click()
    wait_for_video_time(page, 9.0, tolerance=1.0)
    bar = page.locator("[data-scrubber]")
    bar.hover(position={"x": 30, "y": 5})
    expect(page.locator(".scrubber-preview")).to_be_visible()
    expect(page.locator(".scrubber-preview .thumb")).to_have_css("width", "160px")
    screenshot(page, site, "lesson-video")

    # Watch time: pausing reports what was played; the next visit offers to resume there, and the
    # lesson's teacher sees the viewer in the round's statistics.
    page.eval_on_selector("#lesson-video", "video => { video.currentTime = 5; return video.play(); }")
    page.wait_for_function("() => document.getElementById('lesson-video').currentTime > 6.5")
    page.eval_on_selector("#lesson-video", "video => video.pause()")
    with site.api("colleague") as api:
        watch_url = f"/api/v1/resources/{resource_id}/files/{file_id}/watch"
        deadline = time.monotonic() + 10
        while api.get(watch_url).json()["position_s"] < 6.5 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert api.get(watch_url).json()["watched_s"] > 1
    page.goto(f"/resources/{resource_id}")
    expect(page.get_by_role("button", name=re.compile(r"从 00:0[6-9] 继续"))).to_be_visible()
    teacher = signed_in_page(browser, site, "teacher")
    teacher.goto(f"/resources/{resource_id}")
    expect(teacher.locator("[data-stat='观看人数']")).to_have_text("1")
    expect(teacher.locator(".retention polyline")).to_be_attached()
    screenshot(teacher, site, "lesson-watch-stats")


# Every text the status line under the player shows, in order (it is replaced as the page polls).
_RECORD_STATUS_LINE = """
window.statusTexts = [];
new MutationObserver(() => {
  const line = document.querySelector('[data-rendition-status]');
  const text = line ? line.textContent : null;
  if (text && window.statusTexts[window.statusTexts.length - 1] !== text) window.statusTexts.push(text);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""
_STATUS_LINE = re.compile(r"^正在(排队转码|转码 (\d{1,2})%)，原画可先播放$")


def test_the_page_shows_how_far_the_transcode_got(browser: Browser, site: Site) -> None:
    """While the ladder is made the original plays and a line says how far the transcode got; once
    the ladder is ready the line gives way to the quality menu."""
    # The page is signed in and ready before the upload, and the video long enough (3,000 frames),
    # that the transcode is still queued or running as the page opens, however fast the ladder runs.
    page = signed_in_page(browser, site, "colleague")
    page.add_init_script(_RECORD_STATUS_LINE)
    with site.api("teacher") as api:
        metadata = {"title": "认识钟表 第二课时", "resource_type": "lesson_record", "status": "published"}
        content = samples.video_bytes("mp4", duration_s=120.0, fps=25)
        response = api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("第二课时.mp4", content),
            },
        )
        response.raise_for_status()
    page.goto(f"/resources/{response.json()['id']}")
    line = page.locator("[data-rendition-status]")
    expect(line).to_have_text(_STATUS_LINE)
    expect(line).to_have_attribute("role", "status")
    assert _source(page) == "original"  # it plays meanwhile
    page.wait_for_function("() => document.getElementById('lesson-video').readyState >= 1")

    expect(page.get_by_label("清晰度")).to_be_visible(timeout=PROCESSING_TIMEOUT_MS)
    expect(line).to_have_count(0)
    assert _source(page) == "hls"
    texts: list[str] = page.evaluate("() => window.statusTexts")
    assert texts and all(_STATUS_LINE.match(text) for text in texts), texts
    matches = [_STATUS_LINE.match(text) for text in texts]
    percents = [int(match.group(2)) for match in matches if match and match.group(2)]
    assert percents == sorted(percents), texts  # it only ever moves on
