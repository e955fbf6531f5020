"""Classes, textbook browsing and my space in a browser: an administrator sets up a class in the admin
pages, a student walks the textbook tree on a phone, favorites a lesson and finds it in 我的空间; the new
pages have no serious accessibility violations."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, expect

from tests import samples
from tests.web.axe import serious_violations
from tests.web.browsing import PHONE, screenshot, signed_in_page
from tests.web.site import Site


def test_a_class_is_set_up_and_a_student_finds_a_lesson_by_textbook(browser: Browser, site: Site) -> None:
    with site.api("teacher") as api:
        metadata = {
            "title": "《小蝌蚪找妈妈》微课",
            "resource_type": "micro_lesson",
            "status": "published",
            "grade": 2,
            "subject": "语文",
            "edition": "人教版",
            "volume": "上册",
            "unit": "第一单元",
            "lesson": "小蝌蚪找妈妈",
        }
        api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("微课.mp4", samples.mp4_bytes(duration_s=2.0), "video/mp4"),
            },
        ).raise_for_status()

    # A district admin (the site's administrator) works in their school's pages like a school admin.
    admin = signed_in_page(browser, site, "admin")
    with site.api("admin") as api:
        school_id = api.get("/api/v1/users", params={"q": "xiaoming"}).json()["items"][0]["school_id"]
        api.post("/api/v1/classes", json={"school_id": school_id, "grade": 2, "number": 1}).raise_for_status()
        classes = api.get("/api/v1/classes", params={"school_id": school_id}).json()
    class_id = next(item["id"] for item in classes if item["name"] == "二年级一班")
    admin.goto(f"/admin/classes/{class_id}")
    expect(admin.get_by_role("heading", name=re.compile("二年级一班"))).to_be_visible()
    admin.get_by_label(re.compile("加入学生")).select_option(label="小明（xiaoming）")
    admin.get_by_role("button", name="加入").click()
    expect(admin.locator(".students")).to_contain_text("小明")
    admin.get_by_label("教师", exact=True).select_option(label="王老师（wang.laoshi）")
    admin.get_by_label("学科", exact=True).select_option("语文")
    admin.get_by_role("button", name="添加任课教师").click()
    expect(admin.locator("#teachers-title + ul")).to_contain_text("语文：王老师")
    assert serious_violations(admin) == []
    screenshot(admin, site, "admin-class")

    # The student, on a phone, opens 教材同步 at their own grade and walks down to the lesson.
    student = signed_in_page(browser, site, "student", viewport=PHONE)
    student.goto("/")
    student.get_by_role("link", name="教材同步").click()
    expect(student.get_by_role("navigation", name="当前位置")).to_contain_text("二年级")
    student.get_by_role("link", name=re.compile("^语文")).click()
    student.get_by_role("link", name=re.compile("^人教版")).click()
    student.get_by_role("link", name=re.compile("^二年级上册")).click()
    expect(student.locator(".unit")).to_contain_text("小蝌蚪找妈妈")
    assert serious_violations(student) == []
    screenshot(student, site, "textbooks-phone")
    student.get_by_role("link", name=re.compile("《小蝌蚪找妈妈》微课")).click()
    student.get_by_role("button", name="☆ 收藏").click()
    expect(student.get_by_role("button", name="★ 已收藏")).to_be_visible()

    student.get_by_role("link", name="我的空间").click()
    expect(student.locator("#favorites-title")).to_contain_text("收藏（1）")
    expect(student.get_by_role("link", name=re.compile("《小蝌蚪找妈妈》微课")).first).to_be_visible()
    assert serious_violations(student) == []
    screenshot(student, site, "my-space-phone")
