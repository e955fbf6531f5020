"""A teacher edits a resource's details from its page, attaches a file and then deletes it, in a browser."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, FilePayload, expect

from tests import samples
from tests.web.browsing import screenshot, signed_in_page
from tests.web.site import Site


def test_a_teacher_edits_what_they_changed_attaches_a_file_and_deletes_the_resource(
    browser: Browser, site: Site
) -> None:
    metadata = {
        "title": "一元一次方程 课件",
        "resource_type": "courseware",
        "status": "published",
        # A stage without a grade: the form cannot show it as a grade, and saving must keep it.
        "stage": "初中",
        "subject": "数学",
        "unit": "第三单元",
        "tags": ["方程"],
    }
    with site.api("teacher") as api:
        created = api.post(
            "/api/v1/resources",
            files={
                "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                "file": ("方程.pdf", samples.pdf_bytes(["一元一次方程"]), "application/pdf"),
            },
        )
        created.raise_for_status()
        resource_id = created.json()["id"]

    teacher = signed_in_page(browser, site, "teacher")
    teacher.goto(f"/resources/{resource_id}")
    teacher.get_by_text("编辑资料").click()
    expect(teacher.get_by_label("学科")).to_have_value("数学")
    teacher.get_by_label("标题").fill("解一元一次方程 课件")
    teacher.get_by_label("单元").fill("")
    teacher.get_by_role("textbox", name="标签").fill("方程, 七年级")
    screenshot(teacher, site, "resource-edit")
    teacher.get_by_role("button", name="保存").click()
    expect(teacher.get_by_role("heading", name="解一元一次方程 课件")).to_be_visible()
    expect(teacher.get_by_text("资料已保存")).to_be_visible()

    with site.api("teacher") as api:
        saved = api.get(f"/api/v1/resources/{resource_id}").json()
    assert saved["title"] == "解一元一次方程 课件"
    assert saved["unit"] is None
    assert saved["tags"] == ["方程", "七年级"]
    assert (saved["stage"], saved["grade"], saved["subject"]) == ("初中", None, "数学")

    # A lesson plan attached to the round from the page.
    lesson_plan: FilePayload = {
        "name": "教案.pdf",
        "mimeType": "application/pdf",
        "buffer": samples.pdf_bytes(["教学目标"]),
    }
    teacher.locator("#attach-file").set_input_files(files=lesson_plan)
    teacher.get_by_role("button", name="添加").click()
    expect(teacher.locator(".file-list")).to_contain_text("教案.pdf")
    expect(teacher.locator(".file-list li").filter(has_text="教案.pdf")).to_contain_text("附件")

    teacher.once("dialog", lambda dialog: dialog.accept())
    teacher.get_by_role("button", name="删除").click()
    teacher.wait_for_url(re.compile(r"/$"))
    expect(teacher.get_by_text("已删除")).to_be_visible()
    with site.api("teacher") as api:
        assert api.get(f"/api/v1/resources/{resource_id}").status_code == 404
