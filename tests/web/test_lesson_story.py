"""The whole story in a browser: a teacher uploads a lesson with subtitles, a colleague finds it by
pinyin, opens it at the subtitle hit and comments at that second, the teacher is notified, and a
student finds the lesson but never the teacher's draft."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests import samples
from tests.web.browsing import (
    PHONE,
    PROCESSING_TIMEOUT_MS,
    open_page,
    screenshot,
    signed_in_page,
    video_time,
    wait_for_video_time,
    wait_until_searchable,
)
from tests.web.site import Site

TITLE = "树和喜鹊 第一课时"
DRAFT_TITLE = "树和喜鹊 教案修改稿"
CUES = [
    (1.0, 4.0, "同学们好，今天我们学习树和喜鹊"),
    (8.0, 12.0, "喜鹊在树上搭了一个窝"),
    (14.0, 18.0, "请大家一起读一读"),
]


def _lesson_files(workdir: Path) -> tuple[Path, Path]:
    video = workdir / "树和喜鹊.mp4"
    video.write_bytes(samples.mp4_bytes(duration_s=20.0, width=320, height=240, fps=10))
    subtitles = workdir / "树和喜鹊.srt"
    subtitles.write_bytes(samples.srt_bytes(CUES))
    return video, subtitles


def _upload_lesson(page: Page, site: Site, video: Path, subtitles: Path) -> str:
    page.goto("/upload")
    screenshot(page, site, "upload")
    page.get_by_label("标题").fill(TITLE)
    page.get_by_label("资源类型").select_option(label="课例")
    page.get_by_label("年级").select_option(label="二年级")
    page.get_by_label("学科").select_option("语文")
    page.get_by_label("教材版本").fill("人教版")
    page.get_by_label("册次").select_option("下册")
    page.get_by_label("单元").fill("第五单元")
    page.get_by_label("课题").fill("树和喜鹊")
    page.get_by_label("标签").fill("识字, 公开课")
    page.get_by_label("谁可以看").select_option(label="本校")
    page.get_by_label("状态").select_option("published")
    page.get_by_label("主文件").set_input_files(video)
    page.get_by_label("字幕").set_input_files(subtitles)
    page.get_by_role("button", name="开始上传").click()
    status = page.locator("[data-upload-status]")
    expect(status).to_contain_text("处理完成", timeout=PROCESSING_TIMEOUT_MS)
    expect(page.locator("[data-progress]")).to_have_attribute("value", "100")
    screenshot(page, site, "upload-done")
    status.get_by_role("link", name="查看资源").click()
    page.wait_for_url(re.compile(r"/resources/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


def _draft_through_the_api(site: Site) -> str:
    with site.api("teacher") as api:
        metadata = {"title": DRAFT_TITLE, "resource_type": "lesson_plan", "status": "draft", "grade": 2}
        response = api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("教案.pdf", samples.pdf_bytes(["树和喜鹊 教案 修改稿"]), "application/pdf"),
            },
        )
        response.raise_for_status()
        draft_id: str = response.json()["id"]
        return draft_id


def _unread(site: Site, person: str) -> int:
    with site.api(person) as api:
        response = api.get("/api/v1/notifications", params={"unread": "true", "limit": 1})
        response.raise_for_status()
        count: int = response.json()["unread_count"]
        return count


def test_a_lesson_goes_from_upload_to_a_colleagues_timed_comment_and_back(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    video, subtitles = _lesson_files(tmp_path)

    guest = open_page(browser, site)
    guest.goto("/login")
    screenshot(guest, site, "login")

    # The teacher uploads the lesson recording with its subtitles and watches it being processed.
    teacher = signed_in_page(browser, site, "teacher")
    lesson_id = _upload_lesson(teacher, site, video, subtitles)
    expect(teacher.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(teacher.locator("[data-transcript] li")).to_have_count(len(CUES))
    draft_id = _draft_through_the_api(site)
    with site.api("teacher") as api:
        wait_until_searchable(api, "搭了一个窝")

    # A colleague finds it by pinyin: initials complete it, the full pinyin searches for it.
    colleague = signed_in_page(browser, site, "colleague")
    colleague.goto("/")
    search = colleague.get_by_role("combobox", name="检索资源")
    search.fill("shxq")
    option = colleague.get_by_role("option", name=re.compile(TITLE))
    expect(option).to_be_visible()
    expect(search).to_have_attribute("aria-expanded", "true")
    screenshot(colleague, site, "home-autocomplete")
    search.fill("shuhexique")
    search.press("Enter")
    colleague.wait_for_url(re.compile(r"/search\?q=shuhexique"))
    expect(colleague.locator(".hit h3 a").first).to_have_text(TITLE)
    expect(colleague.locator(".hit mark").first).to_be_visible()
    expect(colleague.locator(".facet").first).to_be_visible()
    screenshot(colleague, site, "search-pinyin")

    # Searching the subtitles finds the cue; the hit opens the player at its second.
    search = colleague.get_by_role("combobox", name="检索资源")
    search.fill("搭了一个窝")
    search.press("Enter")
    hit = colleague.locator(".hit").filter(has_text="字幕 00:08")
    expect(hit.locator("mark")).to_have_text("搭了一个窝")
    screenshot(colleague, site, "search-subtitle")
    hit.get_by_role("link", name=TITLE).click()
    colleague.wait_for_url(re.compile(rf"/resources/{lesson_id}\?file=.*&t=8#player"))
    wait_for_video_time(colleague, 8.0)
    expect(colleague.locator("[data-transcript] li.current")).to_contain_text("喜鹊在树上搭了一个窝")
    screenshot(colleague, site, "resource-at-cue")

    # Other tests on this site may have told the teacher things already.
    unread_before = _unread(site, "teacher")

    # The colleague comments at this second, then on a stretch (14–18 s) chosen from the transcript.
    colleague.get_by_role("textbox", name="评课意见").fill("喜鹊窝这里可以先让学生观察插图")
    colleague.get_by_role("button", name="在 00:08 发表评论").click()
    timeline = colleague.locator("[data-timeline]")
    expect(timeline.locator(".comment").filter(has_text="观察插图").locator(".seek")).to_have_text("00:08")
    colleague.get_by_role("button", name="跳到 00:14").click()
    wait_for_video_time(colleague, 14.0)
    colleague.get_by_label("评论一个时间段").check()
    colleague.get_by_label("结束（秒）").fill("18")
    colleague.get_by_label("观察维度").select_option(label="学生活动")
    colleague.get_by_role("textbox", name="评课意见").fill("齐读时间可以短一些")
    colleague.get_by_role("button", name="在 00:14 发表评论").click()
    expect(timeline.locator(".comment").filter(has_text="齐读").locator(".seek")).to_have_text("00:14–00:18")
    # Clicking a comment seeks the player back to it.
    timeline.get_by_role("button", name="跳到 00:08").click()
    wait_for_video_time(colleague, 8.0)
    assert abs(video_time(colleague) - 8.0) < 0.6

    # And scores the round with the rubric; the chart shows the round's average.
    colleague.get_by_label("教学目标达成（0–10）").fill("8")
    colleague.get_by_label("师生互动（0–10）").fill("7")
    colleague.get_by_role("button", name="提交评分").click()
    expect(colleague.locator(".chart .value").first).to_have_text("15")
    screenshot(colleague, site, "resource-reviewed")

    # The teacher sees the badge, then the notification, which leads back to the comment.
    teacher.goto("/")
    badge = teacher.locator("[data-unread-badge]")
    expect(badge).to_be_visible()
    expect(badge.locator("[data-unread-count]")).to_have_text(str(unread_before + 2))
    screenshot(teacher, site, "home")
    teacher.get_by_role("link", name=re.compile("通知")).click()
    notice = teacher.get_by_role(
        "link", name=re.compile(r"李老师 评论了你的《树和喜鹊 第一课时》第1次试课 00:08")
    )
    expect(notice).to_be_visible()
    screenshot(teacher, site, "notifications")
    notice.click()
    teacher.wait_for_url(re.compile(rf"/resources/{lesson_id}\?v=1#comment-"))
    comment = teacher.locator(".comment").filter(has_text="观察插图")
    expect(comment).to_be_visible()
    # The teacher answers the comment in its thread.
    comment.locator("summary", has_text="回复").click()
    comment.get_by_label("回复 李老师").fill("谢谢，下一轮先看插图")
    comment.get_by_role("button", name="发表回复").click()
    expect(teacher.locator(".comment .replies")).to_contain_text("下一轮先看插图")
    teacher.goto("/")
    expect(teacher.locator("[data-unread-count]")).to_have_text(str(unread_before + 1))

    # A student of the school finds the published lesson, never the draft, not even by its address.
    student = signed_in_page(browser, site, "student")
    student.goto("/search?q=树和喜鹊")
    expect(student.locator(".hit h3 a").filter(has_text=TITLE)).to_be_visible()
    expect(student.locator("main")).not_to_contain_text(DRAFT_TITLE)
    student.get_by_role("combobox", name="检索资源").fill("shuhexique")
    expect(student.get_by_role("option", name=re.compile(TITLE))).to_be_visible()
    expect(student.get_by_role("option", name=re.compile("修改稿"))).to_have_count(0)
    screenshot(student, site, "student-search")
    expect(student.get_by_role("link", name="上传资源")).to_have_count(0)
    response = student.goto(f"/resources/{draft_id}")
    assert response is not None and response.status == 404
    expect(student.get_by_role("heading", name="页面不存在")).to_be_visible()
    screenshot(student, site, "student-draft-404")

    # On a phone-width screen the lesson page still works: player, transcript, comments.
    phone = signed_in_page(browser, site, "colleague", viewport=PHONE)
    phone.goto(f"/resources/{lesson_id}")
    expect(phone.locator("#lesson-video")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    screenshot(phone, site, "phone-resource")
    phone.goto("/search?q=树和喜鹊")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, site, "phone-search")
