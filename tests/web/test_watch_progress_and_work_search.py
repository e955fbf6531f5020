"""A 微课 task's watch progress and searching handed-in work, in a browser: the teacher sees how far a
student watched, and finds a student's work by a word inside the PDF they handed in."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Browser, expect

from tests import samples
from tests.web.axe import serious_violations
from tests.web.browsing import PHONE, screenshot, signed_in_page
from tests.web.site import Person, Site

TIMEOUT_S = 90.0


def _wait(check: Any, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _set_up(site: Site) -> tuple[str, str, str, str]:
    """A class of one new student taught by the site's teacher, a 10-second micro-lesson, a task to
    watch it and a task to hand in a report."""
    site.people["xiaohong"] = Person("xiaohong", "小红", "student")
    with site.api("admin") as admin:
        users = admin.get("/api/v1/users", params={"limit": 100}).json()["items"]
        teacher_id = next(u["id"] for u in users if u["username"] == site.people["teacher"].username)
        school_id = next(u["school_id"] for u in users if u["username"] == site.people["teacher"].username)
        student = admin.post(
            "/api/v1/users",
            json={
                "username": "xiaohong",
                "display_name": "小红",
                "password": site.people["xiaohong"].password,
                "role": "student",
                "school_id": school_id,
            },
        )
        student.raise_for_status()
        created = admin.post("/api/v1/classes", json={"school_id": school_id, "grade": 3, "number": 7})
        created.raise_for_status()
        class_id = created.json()["id"]
        admin.post(
            f"/api/v1/classes/{class_id}/students", json={"student_ids": [student.json()["id"]]}
        ).raise_for_status()
        admin.post(
            f"/api/v1/classes/{class_id}/teachers", json={"teacher_id": teacher_id, "subject": "科学"}
        ).raise_for_status()
    with site.api("teacher") as teacher:
        metadata = {
            "title": "光合作用 微课",
            "resource_type": "micro_lesson",
            "grade": 3,
            "visibility": "school",
            "status": "published",
        }
        response = teacher.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("光合作用.mp4", samples.video_bytes("mp4", duration_s=10.0, fps=2)),
            },
        )
        response.raise_for_status()
        lesson = response.json()
        file_id = lesson["versions"][0]["files"][0]["id"]
        _wait(
            lambda: teacher.get(f"/api/v1/resources/{lesson['id']}").json()["versions"][0]["files"][0][
                "duration_s"
            ],
            "the micro-lesson's duration",
        )
        due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        watch_task = teacher.post(
            "/api/v1/assignments",
            json={
                "title": "观看微课《光合作用》",
                "resource_ids": [lesson["id"]],
                "class_ids": [class_id],
                "due_at": due,
                "submission_required": False,
            },
        )
        watch_task.raise_for_status()
        report_task = teacher.post(
            "/api/v1/assignments",
            json={"title": "交实验报告", "class_ids": [class_id], "due_at": due},
        )
        report_task.raise_for_status()
    return lesson["id"], file_id, watch_task.json()["id"], report_task.json()["id"]


def test_the_teacher_sees_watch_progress_and_finds_work_by_a_word_in_its_pdf(
    browser: Browser, site: Site
) -> None:
    lesson_id, file_id, watch_task, report_task = _set_up(site)
    watch_url = f"/api/v1/resources/{lesson_id}/files/{file_id}/watch"
    report = samples.pdf_bytes(["叶子在阳光下进行光合作用"])
    with site.api("xiaohong") as student:
        student.post(watch_url, json={"ranges": [[0, 5]], "position_s": 5}).raise_for_status()
        student.post(
            f"/api/v1/assignments/{report_task}/submission",
            files=[
                ("text", (None, "见附件", "text/plain")),
                ("file", ("实验报告.pdf", report, "application/pdf")),
            ],
        ).raise_for_status()
    with site.api("teacher") as teacher:
        _wait(
            lambda: teacher.get("/api/v1/submissions", params={"q": "进行光合作用"}).json(),
            "the worker to read the report",
        )

    # The teacher finds the report by a word inside its PDF.
    page = signed_in_page(browser, site, "teacher")
    page.goto("/assignments")
    page.get_by_role("searchbox", name=re.compile("搜索学生作业")).fill("进行光合作用")
    page.get_by_role("button", name="搜索").click()
    hit = page.locator("[data-hit='小红']")
    expect(hit).to_contain_text("交实验报告")
    expect(hit.locator(".snippet")).to_contain_text("叶子在阳光下进行光合作用")
    expect(hit.locator(".snippet")).to_contain_text("实验报告.pdf")
    assert serious_violations(page) == []
    screenshot(page, site, "work-search")
    hit.get_by_role("link").click()
    expect(page.get_by_role("link", name="实验报告.pdf").first).to_be_visible()

    # … and how far the student watched the micro-lesson: half of it.
    page.goto(f"/assignments/{watch_task}")
    row = page.locator("[data-student='小红']")
    expect(row.locator("[data-watch]")).to_have_attribute("data-watch", "50")
    expect(row).to_contain_text("未交")
    expect(page.locator("[data-finished-watching]")).to_have_text("0/1")
    assert serious_violations(page) == []

    # She watches the rest: the task is done for her, and watched for the teacher.
    with site.api("xiaohong") as student:
        student.post(watch_url, json={"ranges": [[5, 10]], "position_s": 10}).raise_for_status()
    page.reload()
    expect(row.locator("[data-watch]")).to_have_attribute("data-watch", "100")
    expect(row).to_contain_text("已看完")
    expect(page.locator("[data-finished-watching]")).to_have_text("1/1")
    expect(page.locator("[data-average-watched]")).to_have_text("100%")
    screenshot(page, site, "watch-progress")

    phone = signed_in_page(browser, site, "xiaohong", viewport=PHONE)
    phone.goto("/tasks")
    task = phone.locator(".task", has_text="观看微课《光合作用》")
    expect(task.locator("[data-my-watch]")).to_have_attribute("data-my-watch", "100")
    expect(task).to_contain_text("已完成")
    assert serious_violations(phone) == []
    screenshot(phone, site, "my-watch-progress")
