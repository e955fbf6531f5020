"""A big upload survives a dropped connection and a page reload: the API says which parts it has, and
the page sends only the others."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from playwright.sync_api import Browser, Request, Route, expect

from tests import samples
from tests.web.browsing import PROCESSING_TIMEOUT_MS, screenshot, signed_in_page
from tests.web.site import Site

MIB = 1024 * 1024
PART_SIZE = 5 * MIB  # what the upload page asks for
SIZE = 2 * PART_SIZE + MIB  # three parts
PART_URL = re.compile(r"/api/v1/uploads/[0-9a-f-]{36}/parts/(\d+)$")


def _recording(path: Path) -> Path:
    """A real MP4 followed by a `free` box up to SIZE: valid for the type check, cheap to make."""
    video = samples.mp4_bytes(duration_s=2.0)
    padding = SIZE - len(video)
    path.write_bytes(video + struct.pack(">I", padding) + b"free" + bytes(padding - 8))
    return path


def test_an_interrupted_upload_resumes_after_a_reload_without_sending_stored_parts_again(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    recording = _recording(tmp_path / "第二次试课.mp4")
    page = signed_in_page(browser, site, "teacher")
    page.goto("/upload")
    page.get_by_label("标题").fill("长课例 断点续传")
    page.get_by_label("资源类型").select_option(label="课例")
    page.get_by_label("年级").select_option(label="三年级")

    # The network drops whenever part 2 is sent.
    def drop(route: Route) -> None:
        route.abort("connectionreset")

    page.route("**/api/v1/uploads/*/parts/2", drop)
    page.get_by_label("主文件").set_input_files(recording)
    page.get_by_role("button", name="开始上传").click()
    expect(page.locator("[data-upload-status]")).to_contain_text("重试", timeout=20_000)
    progress = int(page.locator("[data-progress]").get_attribute("value") or "0")
    assert 40 <= progress < 67, progress  # part 1 of three is stored

    # The teacher gives up waiting and reloads: the page remembers the upload and what is stored.
    page.unroute("**/api/v1/uploads/*/parts/2", drop)
    page.reload()
    notice = page.locator("[data-resume-notice]")
    expect(notice).to_contain_text("有未完成的上传：第二次试课.mp4（已上传 45%）")
    expect(page.get_by_label("标题")).to_have_value("长课例 断点续传")
    expect(page.locator("[data-progress]")).to_have_attribute("value", "45")
    screenshot(page, site, "upload-resume")

    sent: list[int] = []

    def record(request: Request) -> None:
        match = PART_URL.search(request.url)
        if match and request.method == "PUT":
            sent.append(int(match.group(1)))

    page.on("request", record)
    page.get_by_label("主文件").set_input_files(recording)
    page.get_by_role("button", name="继续上传").click()
    expect(page.locator("[data-upload-status]")).to_contain_text("处理完成", timeout=PROCESSING_TIMEOUT_MS)
    assert sent == [2, 3], f"parts sent after the reload: {sent}"
    assert page.evaluate("Object.keys(localStorage).filter(key => key.startsWith('jiaoyun.upload.'))") == []

    page.locator("[data-upload-status]").get_by_role("link", name="查看资源").click()
    expect(page.get_by_role("heading", name="长课例 断点续传")).to_be_visible()
    expect(page.locator(".file-list")).to_contain_text("11.0 MB")


def test_a_file_refused_by_its_first_part_stops_there(browser: Browser, site: Site, tmp_path: Path) -> None:
    # A Windows program named like a video: the first part shows what it is.
    impostor = tmp_path / "第三次试课.mp4"
    impostor.write_bytes(b"MZ\x90\x00" + bytes(SIZE - 4))
    page = signed_in_page(browser, site, "teacher")
    page.goto("/upload")
    page.get_by_label("标题").fill("不是视频")
    page.get_by_label("资源类型").select_option(label="课例")
    sent: list[int] = []

    def record(request: Request) -> None:
        match = PART_URL.search(request.url)
        if match and request.method == "PUT":
            sent.append(int(match.group(1)))

    page.on("request", record)
    page.get_by_label("主文件").set_input_files(impostor)
    page.get_by_role("button", name="开始上传").click()

    status = page.locator("[data-form-status]")
    expect(status).to_contain_text("文件类型不符合要求", timeout=20_000)
    expect(status).not_to_contain_text("undefined")
    assert sent == [1], f"parts sent: {sent}"
