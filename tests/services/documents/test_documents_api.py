"""Uploaded documents are found by their own words, on both stacks: legacy-encoded PDFs, scans and
photos (by OCR, their pages saying so), never by the garbage a broken font mapping leaves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from search.documents import AccessFilter, DocKind, SearchQuery, SearchResult
from services.context import AppContext
from services.documents.screen_jobs import FROM_RENDITIONS, FROM_VIDEO, SCREEN_TEXT_JOB
from storage.models.jobs import Job
from tests import samples
from tests.factories import upload_form
from tests.services.documents import generated
from tests.services.resources.scenario import District, district, file_url, main_file

pytestmark = pytest.mark.anyio

EVERYONE = AccessFilter(see_everything=True)
JUNK = "/g18/g152/g33/g27/g44 /g91/g3/g12/g7"


async def search(context: AppContext, text: str, kinds: list[DocKind] | None = None) -> SearchResult:
    return await context.search_index.search(SearchQuery(text=text, access=EVERYONE, kinds=kinds))


async def pages_of(world: District, resource: dict[str, Any]) -> list[dict[str, Any]]:
    response = await world.client.get(
        file_url(resource, main_file(resource)["id"], "pages"), headers=world.teacher_auth
    )
    assert response.status_code == 200, response.text
    pages: list[dict[str, Any]] = response.json()
    return pages


async def test_legacy_encoded_pdf_is_found_by_its_words_and_garbage_never_indexed(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    big5 = await world.created(
        "課文.pdf",
        generated.legacy_cid_pdf("小蝌蚪找媽媽 青蛙的成長", "MSung-Light", "B5pc-H", "big5"),
        resource_type="lesson_plan",
    )
    mixed = await world.created(
        "教案.pdf", samples.pdf_bytes(["秋天的雨 教学设计", JUNK]), resource_type="lesson_plan"
    )
    await world.process()

    found = await search(context, "青蛙的成長", kinds=[DocKind.file_page])
    assert [(hit.parent_id, hit.document.page) for hit in found.hits] == [(big5["id"], 1)]
    assert "<em>" in found.hits[0].highlights["body"]
    # The junk page is in no page, no index entry and so no snippet; its good page is.
    assert [page["text"] for page in await pages_of(world, mixed)] == ["秋天的雨 教学设计"]
    assert (await search(context, "g152")).total == 0
    everything = await context.search_index.search(SearchQuery(text="秋天", access=EVERYONE))
    assert everything.hits and all("/g" not in hit.document.body for hit in everything.hits)


async def test_pdfs_with_encrypted_attachments_are_read_and_a_password_still_refused(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    attached = generated.pdf_with_attachment(
        ["附件课件 小蝌蚪找妈妈"], "答案.pdf", generated.password_pdf(["参考答案"])
    )
    with_attachment = await world.created("课件.pdf", attached, resource_type="courseware")
    only_attachment_encrypted = await world.created(
        "学案.pdf",
        generated.pdf_with_encrypted_embedded_file(["学案 青蛙的成长过程"]),
        resource_type="courseware",
    )
    protected = await world.created("试卷.pdf", generated.password_pdf(["期末试卷"]), resource_type="exam")
    await world.process()

    for resource, phrase in (
        (with_attachment, "小蝌蚪找妈妈"),
        (only_attachment_encrypted, "青蛙的成长过程"),
    ):
        found = await search(context, phrase, kinds=[DocKind.file_page])
        assert [hit.parent_id for hit in found.hits] == [resource["id"]]
        assert main_file(await world.detail(resource["id"]))["processing_status"] == "ready"
    refused = main_file(await world.detail(protected["id"]))
    assert (refused["processing_status"], refused["processing_error"]) == (
        "failed",
        "The PDF is password protected",
    )


async def test_scans_and_photos_are_read_by_ocr_and_say_so(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    lines = ("期中考试试卷", "第三单元练习题")
    photo = await world.created("试卷.jpg", generated.phone_photo(lines), resource_type="exam")
    await world.process()

    detail = await world.detail(photo["id"])
    assert main_file(detail)["processing_status"] == "ready"
    [page] = await pages_of(world, photo)
    assert page["source"] == "ocr" and page["text"].splitlines() == list(lines)
    assert 0.8 < page["confidence"] <= 1
    found = await search(context, "第三单元练习题", kinds=[DocKind.file_page])
    assert [hit.parent_id for hit in found.hits] == [photo["id"]]


async def test_srt_without_numbers_is_accepted_and_unreadable_encodings_are_named(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    recording = await world.created("课例.mp4", samples.mp4_bytes(1.0), resource_type="lesson_record")
    unnumbered = "00:00:01,000 --> 00:00:02,000\n同學們好\n\n00:00:03,000 --> 00:00:04,500\n請翻開課本\n"

    accepted = await client.post(
        f"/api/v1/resources/{recording['id']}/files",
        files=upload_form({"purpose": "subtitle"}, "课例.srt", unnumbered.encode("big5")),
        headers=world.teacher_auth,
    )
    refused = await client.post(
        f"/api/v1/resources/{recording['id']}/files",
        files=upload_form({"purpose": "subtitle"}, "课例.srt", unnumbered.encode("utf-16-be")),
        headers=world.teacher_auth,
    )

    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 415
    assert "encoding" in refused.json()["error"]["message"]
    await world.process()
    found = await search(context, "翻開課本", kinds=[DocKind.video_cue])
    assert [hit.document.start_s for hit in found.hits] == [3.0]


async def screen_text_sources(context: AppContext) -> list[str]:
    """Where each screen-text job took its frames from: the transcode's pass, or the video."""
    async with context.sessionmaker() as session:
        jobs = await session.scalars(select(Job).where(Job.kind == SCREEN_TEXT_JOB))
        return [job.payload["from"] for job in jobs]


async def test_a_slide_recording_answers_a_search_with_the_second_its_slide_appears(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    video = generated.slide_video((("第一课 小蝌蚪找妈妈",), ("课堂练习 青蛙的成长过程",)))
    recording = await world.created("课例.mp4", video, resource_type="lesson_record")
    await world.process()

    # The frames came from the transcode's decode pass: the video was decoded once.
    assert await screen_text_sources(context) == [FROM_RENDITIONS]

    found = await search(context, "青蛙的成长过程", kinds=[DocKind.screen_text])
    assert [(hit.parent_id, hit.document.start_s) for hit in found.hits] == [(recording["id"], 4.0)]
    matched = await client.get(
        "/api/v1/search", params={"q": "青蛙的成长过程", "kind": "screen_text"}, headers=world.student_auth
    )
    assert matched.status_code == 200, matched.text
    location = matched.json()["hits"][0]["location"]
    assert (location["where"], location["start_s"]) == ("screen", 4.0)
    assert location["open_url"].endswith("#t=4")

    screens_url = file_url(recording, main_file(recording)["id"], "screens")
    screens = await client.get(screens_url, headers=world.teacher_auth)
    assert [(screen["start_s"], screen["text"]) for screen in screens.json()] == [
        (0.0, "第一课小蝌蚪找妈妈"),
        (4.0, "课堂练习青蛙的成长过程"),
    ]
    thumbnail = await client.get(screens.json()[1]["thumbnail_url"], headers=world.teacher_auth)
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    missing = await client.get(f"{screens_url}/9/thumbnail", headers=world.teacher_auth)
    assert missing.status_code == 404


async def test_a_recording_whose_transcode_failed_still_gets_its_screen_text(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    context.settings.video_transcode_memory_mb = 40  # the transcoding child cannot even start
    video = generated.slide_video((("第一课 小蝌蚪找妈妈",), ("课堂练习 青蛙的成长过程",)))
    recording = await world.created("课例.mp4", video, resource_type="lesson_record")
    await world.process()

    renditions = await client.get(
        file_url(recording, main_file(recording)["id"], "video"), headers=world.teacher_auth
    )
    assert renditions.json()["status"] == "failed"
    assert await screen_text_sources(context) == [FROM_VIDEO]
    found = await search(context, "青蛙的成长过程", kinds=[DocKind.screen_text])
    assert [(hit.parent_id, hit.document.start_s) for hit in found.hits] == [(recording["id"], 4.0)]
