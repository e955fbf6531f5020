"""The students' half in a browser: a teacher gives a task on the desktop, a student hands in photos and a
reading aloud on a phone-sized page, the teacher grades it, the student sees the feedback."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, FilePayload, expect

from tests import samples
from tests.services.assignments.world import photo_bytes
from tests.web.axe import serious_violations
from tests.web.browsing import PHONE, screenshot, signed_in_page
from tests.web.site import Site


def _set_up_class(site: Site) -> None:
    """A class with the site's student, taught by its teacher, and a published resource to give."""
    with site.api("admin") as admin:
        users = admin.get("/api/v1/users", params={"limit": 100}).json()["items"]
        by_name = {user["username"]: user for user in users}
        school_id = by_name[site.people["teacher"].username]["school_id"]
        created = admin.post("/api/v1/classes", json={"school_id": school_id, "grade": 2, "number": 3})
        created.raise_for_status()
        class_id = created.json()["id"]
        admin.post(
            f"/api/v1/classes/{class_id}/students",
            json={"student_ids": [by_name[site.people["student"].username]["id"]]},
        ).raise_for_status()
        admin.post(
            f"/api/v1/classes/{class_id}/teachers",
            json={"teacher_id": by_name[site.people["teacher"].username]["id"], "subject": "语文"},
        ).raise_for_status()
    with site.api("teacher") as teacher:
        teacher.post(
            "/api/v1/resources",
            files={
                "metadata": (
                    None,
                    '{"title": "《曹冲称象》学案", "resource_type": "study_guide", "grade": 2,'
                    ' "subject": "语文", "visibility": "school", "status": "published"}',
                    "application/json",
                ),
                "file": ("学案.pdf", samples.pdf_bytes(["曹冲称象 学案"]), "application/pdf"),
            },
        ).raise_for_status()


def test_student_hands_in_on_a_phone_and_the_teacher_grades_on_the_desktop(
    browser: Browser, site: Site
) -> None:
    _set_up_class(site)

    # The teacher gives the task from the desktop.
    teacher = signed_in_page(browser, site, "teacher")
    teacher.goto("/assignments")
    teacher.get_by_role("link", name="布置任务").click()
    teacher.get_by_label("标题").fill("朗读《曹冲称象》并拍照交生字")
    teacher.get_by_label("要求").fill("读三遍，录一遍音；生字每个写两遍。")
    teacher.get_by_label(re.compile("二年级三班")).check()
    teacher.get_by_label(re.compile("《曹冲称象》学案")).check()
    teacher.get_by_label("截止时间（北京时间）").fill("2030-06-01T18:00")
    screenshot(teacher, site, "assignment-new")
    teacher.get_by_role("button", name="布置").click()
    teacher.wait_for_url(re.compile(r"/assignments/[0-9a-f-]{36}$"))
    expect(teacher.locator("[data-class-summary='二年级三班']")).to_contain_text("0%")

    # The student, on a phone, finds it among their tasks and hands in a photo and a recording.
    student = signed_in_page(browser, site, "student", viewport=PHONE)
    student.goto("/")
    student.get_by_role("link", name="我的任务").click()
    student.get_by_role("link", name=re.compile("朗读《曹冲称象》")).click()
    expect(student.get_by_role("link", name=re.compile("《曹冲称象》学案"))).to_be_visible()
    student.get_by_label("文字").fill("我读了三遍。")
    files: list[FilePayload] = [
        {"name": "IMG_2024.JPG", "mimeType": "image/jpeg", "buffer": photo_bytes(80, 40)},
        {"name": "朗读.m4a", "mimeType": "audio/mp4", "buffer": samples.m4a_bytes()},
    ]
    student.get_by_label(re.compile("照片、文档")).set_input_files(files)
    assert serious_violations(student) == []
    screenshot(student, site, "task-phone")
    student.get_by_role("button", name="提交").click()
    expect(student.get_by_role("heading", name="我交的作业")).to_be_visible()
    expect(student.locator("[data-submitted-text]")).to_have_text("我读了三遍。")
    expect(student.locator("img.work-photo")).to_be_visible()
    expect(student.locator(".work-file audio")).to_have_count(1)
    # Nothing sticks out sideways on the phone.
    assert student.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(student, site, "task-phone-handed-in")

    # The teacher sees it handed in and grades it.
    teacher.reload()
    expect(teacher.locator("[data-class-summary='二年级三班']")).to_contain_text("100%")
    assert serious_violations(teacher) == []
    teacher.get_by_role("link", name="小明").click()
    expect(teacher.locator("[data-submitted-text]")).to_have_text("我读了三遍。")
    teacher.get_by_label("等级").select_option("A")
    teacher.get_by_label("评语").fill("读得很流利，字也工整！")
    assert serious_violations(teacher) == []
    screenshot(teacher, site, "submission-review")
    teacher.get_by_role("button", name="保存批改").click()
    expect(teacher.locator("[data-grade]")).to_have_text("A")

    # The student is told and sees the feedback.
    student.goto("/notifications")
    student.get_by_role("link", name=re.compile("已批改")).first.click()
    expect(student.locator("[data-grade]")).to_have_text("A")
    expect(student.locator("[data-feedback]")).to_have_text("读得很流利，字也工整！")
    screenshot(student, site, "task-phone-feedback")
