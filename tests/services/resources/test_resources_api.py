"""Resources over HTTP on both stacks: upload, process, serve, change, list, delete."""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote

import httpx
import pytest

from search.documents import AccessFilter, DocKind, SearchQuery
from services.context import AppContext
from services.indexing.service import enqueue_reindex
from services.jobs.repository import JobRepository
from services.resources.service import PROCESS_FILE_JOB, SEARCH_PARENT
from storage.models.resources import FilePage
from tests import samples
from tests.factories import upload_form
from tests.services.resources.scenario import district, file_url, main_file

pytestmark = pytest.mark.anyio

VIDEO = samples.mp4_bytes(duration_s=3.0, width=320, height=240)


async def test_a_lesson_recording_is_uploaded_processed_and_served_with_ranges(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)

    resource = await world.created("树和喜鹊 课堂实录.mp4", VIDEO, resource_type="lesson_record")

    assert resource["stage"] == "小学" and resource["grade"] == 2
    assert resource["current_version"] == 1
    assert resource["versions"][0]["label"] == "第1次试课"
    video = main_file(resource)
    assert video["format"] == "mp4" and video["media_type"] == "video/mp4"
    assert video["size"] == len(VIDEO)
    assert video["sha256"] == hashlib.sha256(VIDEO).hexdigest()
    assert video["processing_status"] == "pending" and resource["processing_status"] == "pending"

    await world.process()

    resource = await world.detail(resource["id"])
    video = main_file(resource)
    assert resource["processing_status"] == "ready", video
    assert video["duration_s"] == pytest.approx(3.0, abs=0.3)
    assert (video["width"], video["height"]) == (320, 240)
    assert video["has_poster"]
    poster = await client.get(file_url(resource, video["id"], "poster"), headers=world.teacher_auth)
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"

    whole = await client.get(video["content_url"], headers=world.teacher_auth)
    assert whole.status_code == 200 and whole.content == VIDEO
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    assert f"filename*=UTF-8''{quote('树和喜鹊 课堂实录.mp4')}" in whole.headers["content-disposition"]
    assert whole.headers["content-disposition"].startswith("inline")

    middle = len(VIDEO) // 2
    ranged = await client.get(
        video["content_url"], headers={**world.teacher_auth, "Range": f"bytes={middle}-{middle + 999}"}
    )
    assert ranged.status_code == 206
    assert ranged.content == VIDEO[middle : middle + 1000]
    assert ranged.headers["content-range"] == f"bytes {middle}-{middle + 999}/{len(VIDEO)}"

    tail = await client.get(video["content_url"], headers={**world.teacher_auth, "Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == VIDEO[-100:]
    beyond = await client.get(
        video["content_url"], headers={**world.teacher_auth, "Range": f"bytes={len(VIDEO)}-"}
    )
    assert beyond.status_code == 416 and beyond.json()["error"]["code"] == "range_not_satisfiable"

    again = await client.get(
        video["content_url"], headers={**world.teacher_auth, "If-None-Match": whole.headers["etag"]}
    )
    assert again.status_code == 304

    download = await client.get(video["content_url"] + "?download=true", headers=world.teacher_auth)
    assert download.headers["content-disposition"].startswith("attachment")


async def test_documents_are_extracted_page_by_page_and_indexed(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    slides = await world.created(
        "树和喜鹊.pptx",
        samples.pptx_bytes(["树和喜鹊 识字", "喜鹊的家在哪里"], notes=["导入", "朗读课文"]),
        resource_type="courseware",
    )
    plan = await world.created(
        "教案.docx", samples.docx_bytes(["教学目标 认识生字", "教学过程 朗读"]), resource_type="lesson_plan"
    )
    paper = await world.created(
        "练习.pdf", samples.pdf_bytes(["第一页 拼音练习", "第二页 组词练习"]), resource_type="assignment"
    )

    await world.process()

    for resource, count in ((slides, 2), (plan, 2), (paper, 2)):
        detail = await world.detail(resource["id"])
        document = main_file(detail)
        assert document["processing_status"] == "ready", document
        assert document["page_count"] == count
    pages = await client.get(file_url(slides, main_file(slides)["id"], "pages"), headers=world.teacher_auth)
    assert [page["number"] for page in pages.json()] == [1, 2]
    assert "喜鹊的家" in pages.json()[1]["text"] and "朗读课文" in pages.json()[1]["text"]

    await context.search_index.refresh()
    result = await context.search_index.search(
        SearchQuery(text="组词练习", access=AccessFilter(see_everything=True), kinds=[DocKind.file_page])
    )
    assert [(hit.parent_id, hit.document.page) for hit in result.hits] == [(paper["id"], 2)]
    assert result.hits[0].document.file_id == main_file(paper)["id"]


async def test_subtitles_attach_to_a_round_and_become_timed_cues(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    recording = await world.created("课例.mp4", VIDEO, resource_type="lesson_record")
    subtitles = samples.srt_bytes([(0.5, 2.0, "同学们好"), (12.25, 15.0, "小喜鹊在大树上安家")])

    response = await client.post(
        f"/api/v1/resources/{recording['id']}/files",
        files=upload_form({"purpose": "subtitle", "language": "zh-CN"}, "课例.srt", subtitles),
        headers=world.teacher_auth,
    )
    assert response.status_code == 201, response.text
    subtitle = response.json()
    assert subtitle["purpose"] == "subtitle" and subtitle["format"] == "srt"

    await world.process()

    cues = await client.get(file_url(recording, subtitle["id"], "cues"), headers=world.teacher_auth)
    assert [(cue["start_s"], cue["text"]) for cue in cues.json()] == [
        (0.5, "同学们好"),
        (12.25, "小喜鹊在大树上安家"),
    ]
    await context.search_index.refresh()
    result = await context.search_index.search(
        SearchQuery(text="安家", access=AccessFilter(see_everything=True), kinds=[DocKind.video_cue])
    )
    assert [hit.document.start_s for hit in result.hits] == [12.25]

    # Subtitles need a video to belong to.
    plan = await world.created("教案.pdf", samples.pdf_bytes(["教案"]), resource_type="lesson_plan")
    refused = await client.post(
        f"/api/v1/resources/{plan['id']}/files",
        files=upload_form({"purpose": "subtitle"}, "x.srt", subtitles),
        headers=world.teacher_auth,
    )
    assert refused.status_code == 409


async def test_rounds_metadata_replacement_and_views(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    recording = await world.created("第一次.mp4", VIDEO, resource_type="lesson_record")

    second = await client.post(
        f"/api/v1/resources/{recording['id']}/versions",
        files=upload_form({"note": "调整了导入环节"}, "第二次.mp4", samples.mp4_bytes(duration_s=1.0)),
        headers=world.teacher_auth,
    )
    assert second.status_code == 201, second.text
    assert (second.json()["number"], second.json()["label"]) == (2, "第2次试课")
    detail = await world.detail(recording["id"])
    assert detail["current_version"] == 2
    assert [version["number"] for version in detail["versions"]] == [2, 1]
    assert main_file(detail)["filename"] == "第二次.mp4"

    changed = await client.patch(
        f"/api/v1/resources/{recording['id']}",
        json={"title": "树和喜鹊（磨课）", "edition": "人民教育出版社", "grade": 8, "subject": "道法"},
        headers=world.teacher_auth,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["title"], body["edition"], body["stage"], body["subject"]) == (
        "树和喜鹊（磨课）",
        "人教版",
        "初中",
        "道德与法治",
    )
    assert (
        await client.patch(
            f"/api/v1/resources/{recording['id']}", json={"title": None}, headers=world.teacher_auth
        )
    ).status_code == 422
    assert (
        await client.patch(
            f"/api/v1/resources/{recording['id']}", json={"title": "抢"}, headers=world.colleague_auth
        )
    ).status_code == 403

    old_video = main_file(detail)
    replacement = samples.mp4_bytes(duration_s=2.0, width=160, height=120)
    replaced = await client.put(
        old_video["content_url"], files=upload_form(None, "重录.mp4", replacement), headers=world.teacher_auth
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["id"] == old_video["id"] and replaced.json()["size"] == len(replacement)
    not_a_video = await client.put(
        old_video["content_url"],
        files=upload_form(None, "a.pdf", samples.pdf_bytes(["x"])),
        headers=world.teacher_auth,
    )
    assert not_a_video.status_code == 409
    await world.process()
    content = await client.get(old_video["content_url"], headers=world.teacher_auth)
    assert content.content == replacement
    assert main_file(await world.detail(recording["id"]))["width"] == 160

    before = (await world.detail(recording["id"], world.student_auth))["view_count"]
    again = (await world.detail(recording["id"], world.student_auth))["view_count"]
    after = (await world.detail(recording["id"], world.colleague_auth))["view_count"]
    assert again == before and after == before + 1  # one view per viewer per window


async def test_listing_filters_paginates_and_obeys_permissions(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    pdf = samples.pdf_bytes(["内容"])
    await world.created("a.pdf", pdf, title="数学 published", subject="数学", resource_type="lesson_plan")
    await world.created("b.pdf", pdf, title="语文 published", subject="语文", tags=["古诗"])
    await world.created("c.pdf", pdf, title="语文 draft", subject="语文", status="draft")
    await world.created("d.pdf", pdf, title="语文 private", subject="语文", visibility="private")
    await world.created("e.pdf", pdf, title="区级 published", subject="语文", visibility="district")

    async def titles(auth: dict[str, str] | None, query: str = "") -> list[str]:
        response = await client.get(f"/api/v1/resources?sort=title{query}", headers=auth or {})
        assert response.status_code == 200, response.text
        return sorted(item["title"] for item in response.json()["items"])

    assert await titles(world.teacher_auth) == sorted(
        ["数学 published", "语文 published", "语文 draft", "语文 private", "区级 published"]
    )
    assert await titles(world.student_auth) == sorted(["数学 published", "语文 published", "区级 published"])
    assert await titles(world.outsider_auth) == ["区级 published"]
    assert await titles(None) == []
    assert await titles(world.student_auth, "&subject=语文") == sorted(["语文 published", "区级 published"])
    assert await titles(world.student_auth, "&tag=古诗") == ["语文 published"]
    assert await titles(world.student_auth, "&resource_type=lesson_plan&grade=2") == ["数学 published"]

    page = await client.get("/api/v1/resources?limit=2&offset=2&sort=newest", headers=world.teacher_auth)
    assert page.json()["total"] == 5 and len(page.json()["items"]) == 2
    assert (await client.get("/api/v1/resources?limit=1000", headers=world.teacher_auth)).status_code == 422


async def test_other_schools_and_students_cannot_reach_what_they_may_not_see(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    draft = await world.created("a.mp4", VIDEO, resource_type="micro_lesson", status="draft")
    video = main_file(draft)

    for auth in (world.student_auth, world.outsider_auth, {}):
        assert (await client.get(f"/api/v1/resources/{draft['id']}", headers=auth)).status_code == 404
        assert (await client.get(video["content_url"], headers=auth)).status_code == 404
        assert (await client.delete(f"/api/v1/resources/{draft['id']}", headers=auth)).status_code in {
            401,
            404,
        }
    student_upload = await world.upload("b.mp4", VIDEO, auth=world.student_auth, resource_type="micro_lesson")
    assert student_upload.status_code == 403

    share = await client.post(
        "/api/v1/share-links",
        json={"object_type": "resource", "object_id": draft["id"], "expires_in_hours": 1},
        headers=world.teacher_auth,
    )
    assert share.status_code == 201, share.text
    token = share.json()["token"]
    shared = await client.get(f"/api/v1/resources/{draft['id']}?share={token}")
    assert shared.status_code == 200 and shared.json()["title"] == draft["title"]
    content = await client.get(f"{video['content_url']}?share={token}")
    assert content.status_code == 200 and content.content == VIDEO
    other = await world.created("c.mp4", VIDEO, resource_type="micro_lesson", status="draft")
    assert (await client.get(f"/api/v1/resources/{other['id']}?share={token}")).status_code == 404


async def test_deleting_a_resource_removes_its_rows_and_blobs(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    recording = await world.created("课例.mp4", VIDEO, resource_type="lesson_record")
    await client.post(
        f"/api/v1/resources/{recording['id']}/files",
        files=upload_form({"purpose": "subtitle"}, "课例.vtt", samples.vtt_bytes([(1.0, 2.0, "你好")])),
        headers=world.teacher_auth,
    )
    await world.process()
    keys = await world.blob_keys()
    # video, poster, subtitles; and the recording's renditions (services/video), which go with it
    assert len([key for key in keys if not key.startswith("video/")]) == 3
    assert any(key.startswith("video/") for key in keys)

    assert (
        await client.delete(f"/api/v1/resources/{recording['id']}", headers=world.colleague_auth)
    ).status_code == 403
    response = await client.delete(f"/api/v1/resources/{recording['id']}", headers=world.teacher_auth)
    assert response.status_code == 204
    await world.process()

    assert await world.row_counts() == (0, 0)
    assert await world.blob_keys() == []
    assert (
        await client.get(f"/api/v1/resources/{recording['id']}", headers=world.teacher_auth)
    ).status_code == 404
    await context.search_index.refresh()
    result = await context.search_index.search(SearchQuery(text="", access=AccessFilter(see_everything=True)))
    assert result.total == 0


async def test_removing_an_attachment_keeps_the_main_file(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    recording = await world.created("课例.mp4", VIDEO, resource_type="lesson_record")
    attachment = await client.post(
        f"/api/v1/resources/{recording['id']}/files",
        files=upload_form({"purpose": "attachment"}, "课件.pdf", samples.pdf_bytes(["课件"])),
        headers=world.teacher_auth,
    )
    assert attachment.status_code == 201, attachment.text
    video = main_file(recording)

    assert (
        await client.delete(file_url(recording, video["id"], "").rstrip("/"), headers=world.teacher_auth)
    ).status_code == 409
    removed = await client.delete(
        file_url(recording, attachment.json()["id"], "").rstrip("/"), headers=world.teacher_auth
    )
    assert removed.status_code == 204
    await world.process()
    detail = await world.detail(recording["id"])
    assert [file["id"] for file in detail["versions"][0]["files"]] == [video["id"]]
    # the video and its poster (and its renditions, services/video)
    assert len([key for key in await world.blob_keys() if not key.startswith("video/")]) == 2


async def test_content_can_redirect_to_a_presigned_url_in_s3_mode(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    resource = await world.created("课例.mp4", VIDEO, resource_type="lesson_record")
    url = main_file(resource)["content_url"] + "?redirect=true"

    response = await client.get(url, headers=world.teacher_auth)

    if context.blob_store.name != "s3":
        assert response.status_code == 200 and response.content == VIDEO  # served by the API itself
        return
    assert response.status_code == 307
    async with httpx.AsyncClient() as direct:
        fetched = await direct.get(response.headers["location"], headers={"Range": "bytes=10-19"})
    assert fetched.status_code == 206 and fetched.content == VIDEO[10:20]
    assert fetched.headers["content-type"] == "video/mp4"


async def test_a_broken_document_is_stored_but_marked_failed(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    broken = await world.created(
        "坏的.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 100, resource_type="lesson_plan"
    )

    await world.process()

    detail = await world.detail(broken["id"])
    document = main_file(detail)
    assert detail["processing_status"] == "failed"
    assert document["processing_status"] == "failed" and document["processing_error"]
    content = await client.get(document["content_url"], headers=world.teacher_auth)
    assert content.status_code == 200  # still downloadable: the teacher's file is not lost


async def _page_hits(context: AppContext, text: str) -> list[str]:
    await context.search_index.refresh()
    result = await context.search_index.search(
        SearchQuery(text=text, access=AccessFilter(see_everything=True), kinds=[DocKind.file_page])
    )
    return [hit.parent_id for hit in result.hits]


async def test_replaced_or_failed_content_leaves_no_stale_text(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    plan = await world.created(
        "教案.pdf", samples.pdf_bytes(["甲骨文拓片 教学目标"]), resource_type="lesson_plan"
    )
    await world.process()
    document = main_file(await world.detail(plan["id"]))
    pages_url = file_url(plan, document["id"], "pages")
    assert await _page_hits(context, "甲骨文拓片") == [plan["id"]]

    broken = b"%PDF-1.7\n" + b"\x00garbage" * 100
    replaced = await client.put(
        document["content_url"], files=upload_form(None, "新教案.pdf", broken), headers=world.teacher_auth
    )
    assert replaced.status_code == 200, replaced.text
    # At once, before the new content is processed: the old pages are gone, here and in search.
    assert (await client.get(pages_url, headers=world.teacher_auth)).json() == []
    assert replaced.json()["page_count"] is None
    await world.process()
    assert main_file(await world.detail(plan["id"]))["processing_status"] == "failed"
    assert await _page_hits(context, "甲骨文拓片") == []

    # Processing that fails leaves no text either, whatever was there before it ran (text left by an
    # earlier run of the job, say).
    async with context.sessionmaker() as session, session.begin():
        session.add(FilePage(file_id=uuid.UUID(document["id"]), number=1, text="残留的旧文字"))
        enqueue_reindex(session, SEARCH_PARENT, uuid.UUID(plan["id"]))
        JobRepository(session).add(PROCESS_FILE_JOB, {"file_id": document["id"]})
    await world.process()
    assert (await client.get(pages_url, headers=world.teacher_auth)).json() == []
    assert await _page_hits(context, "残留的旧文字") == []


async def test_metadata_changes_keep_stage_and_type_consistent(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    recording = await world.created("课例.mp4", VIDEO, resource_type="lesson_record", grade=2)
    url = f"/api/v1/resources/{recording['id']}"
    assert recording["stage"] == "小学"

    async def patch(**changes: object) -> httpx.Response:
        return await client.patch(url, json=changes, headers=world.teacher_auth)

    # The stage came from the grade: removing the grade removes it, unless a stage is given.
    cleared = await patch(grade=None)
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["grade"], cleared.json()["stage"]) == (None, None)
    staged = await patch(stage="初中")
    assert staged.json()["stage"] == "初中"
    kept = await patch(grade=None, stage="高中")
    assert (kept.json()["grade"], kept.json()["stage"]) == (None, "高中")
    assert (await patch(grade=5)).json()["stage"] == "小学"

    # A lesson plan is a document; this resource's main file is a video.
    refused = await patch(resource_type="lesson_plan")
    assert refused.status_code == 409, refused.text
    assert "video" in refused.json()["error"]["message"]
    assert (await world.detail(recording["id"]))["resource_type"] == "lesson_record"
    # Courseware may be a video: that change is fine.
    assert (await patch(resource_type="courseware")).json()["resource_type"] == "courseware"


async def test_list_filters_accept_the_names_teachers_write(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    pdf = samples.pdf_bytes(["内容"])
    wanted = await world.created(
        "a.pdf", pdf, title="道法 上册", subject="道德与法治", edition="人教版", volume="上册", grade=7
    )
    await world.created("b.pdf", pdf, title="语文 下册", subject="语文", edition="北师大版", volume="下册")

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/resources?{query}", headers=world.teacher_auth)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    for query in ("subject=道法", "edition=人民教育出版社", "edition=人教", "volume=上", " volume=上册"):
        assert await ids(query.strip()) == [wanted["id"]], query
    assert await ids("subject=道法&edition=人民教育出版社&volume=上") == [wanted["id"]]
    # Names outside the vocabulary are no error in a filter; they match nothing.
    assert await ids("subject=炼丹") == []
