"""Renditions end to end on both stacks: queued with the recording, made by the worker, served
through the file's own permission checks (share links too), deleted with it and known to gc."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.context import AppContext
from services.maintenance.service import collect_garbage
from tests import samples
from tests.factories import upload_form
from tests.services.resources.scenario import District, district, file_url, main_file

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def small_ladder(context: AppContext) -> None:
    context.settings.video_ladder = [120, 240]
    context.settings.video_preset = "ultrafast"


async def recorded(world: District, **metadata: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    content = samples.video_bytes("matroska", duration_s=5.0, fps=10, with_audio=True)
    metadata.setdefault("resource_type", "lesson_record")
    resource = await world.created("第一次试课.mkv", content, **metadata)
    await world.process()
    return resource, main_file(await world.detail(resource["id"]))


async def test_a_recording_gets_an_hls_ladder_served_like_its_file(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    resource, video = await recorded(world)
    assert (video["format"], video["processing_status"]) == ("mkv", "ready")

    status = (await client.get(file_url(resource, video["id"], "video"), headers=world.student_auth)).json()
    assert (status["status"], status["progress"], status["error"]) == ("ready", 100, None)
    assert [item["name"] for item in status["renditions"]] == ["120p", "240p"]
    assert status["storyboard"]["count"] == 1 and status["duration_s"] == pytest.approx(5.0, abs=0.2)

    master = await client.get(status["master_url"], headers=world.student_auth)
    assert master.status_code == 200 and master.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert master.headers["cache-control"] == "private, no-store"
    assert "120p/index.m3u8" in master.text and "240p/index.m3u8" in master.text
    base = status["master_url"].rsplit("/", 1)[0]
    playlist = await client.get(f"{base}/240p/index.m3u8", headers=world.student_auth)
    segments = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    assert len(segments) == 3
    if context.blob_store.name == "s3":
        # The bytes come from object storage directly, through presigned URLs.
        assert all(re.match(r"https?://.*X-Amz-Signature=", line) for line in segments)
        async with httpx.AsyncClient() as direct:
            fetched = await direct.get(segments[0])
        assert fetched.status_code == 200 and fetched.content[:1] == b"\x47"
    else:
        assert segments == ["seg00000.ts", "seg00001.ts", "seg00002.ts"]
    segment = await client.get(f"{base}/240p/seg00000.ts", headers=world.student_auth)
    assert segment.status_code == 200 and segment.content[:1] == b"\x47"
    assert segment.headers["cache-control"] == "private, max-age=31536000, immutable"
    track = await client.get(status["storyboard"]["url"], headers=world.student_auth)
    assert "storyboard/sheet0000.jpg#xywh=0,0,160,120" in track.text
    sheet = await client.get(
        file_url(resource, video["id"], "storyboard/sheet0000.jpg"), headers=world.student_auth
    )
    assert sheet.status_code == 200 and sheet.content[:3] == b"\xff\xd8\xff"
    # What was never written is not found, and names are checked before anything is looked up.
    assert (await client.get(f"{base}/240p/seg00009.ts", headers=world.student_auth)).status_code == 404
    assert (await client.get(f"{base}/240p/..%2Fmaster.m3u8", headers=world.student_auth)).status_code in (
        404,
        422,
    )


async def test_playlists_and_segments_follow_the_files_permissions(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    resource, video = await recorded(world, visibility="private")
    paths = ["video", "hls/master.m3u8", "hls/240p/index.m3u8", "hls/240p/seg00000.ts", "storyboard.vtt"]
    for path in paths:
        url = file_url(resource, video["id"], path)
        assert (await client.get(url, headers=world.teacher_auth)).status_code == 200, path
        for stranger in (world.colleague_auth, world.student_auth, world.outsider_auth, {}):
            assert (await client.get(url, headers=stranger)).status_code in (401, 404), path

    link = await client.post(
        "/api/v1/share-links",
        json={"object_type": "resource", "object_id": resource["id"]},
        headers=world.teacher_auth,
    )
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    status = (await client.get(file_url(resource, video["id"], "video"), params={"share": token})).json()
    assert status["master_url"].endswith(f"?share={token}")
    master = await client.get(status["master_url"])
    assert f"240p/index.m3u8?share={token}" in master.text
    playlist = await client.get(
        file_url(resource, video["id"], "hls/240p/index.m3u8"), params={"share": token}
    )
    if context.blob_store.name != "s3":
        assert f"seg00000.ts?share={token}" in playlist.text
    segment = await client.get(
        file_url(resource, video["id"], "hls/240p/seg00000.ts"), params={"share": token}
    )
    assert segment.status_code == 200
    wrong = await client.get(
        file_url(resource, video["id"], "hls/240p/seg00000.ts"), params={"share": "nope"}
    )
    assert wrong.status_code == 404


async def test_renditions_go_with_their_content_and_gc_knows_them(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    resource, video = await recorded(world)
    first = [key for key in await world.blob_keys() if key.startswith("video/")]
    assert len(first) == 11  # master, 2 × (playlist + 3 segments), storyboard track and sheet

    replaced = await client.put(
        video["content_url"],
        files=upload_form(None, "第二稿.mp4", samples.video_bytes("mp4", duration_s=1.0)),
        headers=world.teacher_auth,
    )
    assert replaced.status_code == 200, replaced.text
    await world.process()
    second = [key for key in await world.blob_keys() if key.startswith("video/")]
    assert not set(first) & set(second) and len(second) == 7  # the old ladder went, a new one came
    status = (await client.get(file_url(resource, video["id"], "video"), headers=world.teacher_auth)).json()
    assert status["status"] == "ready" and [item["name"] for item in status["renditions"]] == ["120p", "240p"]

    # A transcode killed while uploading leaves blobs under a prefix no row owns: gc removes them.
    async def chunk() -> Any:
        yield b"#EXTM3U\n"

    await context.blob_store.put("video/2026/01/" + "a" * 32 + "/240p/index.m3u8", chunk())
    report = await collect_garbage(context, grace=timedelta(seconds=-1))
    assert report.orphan_blobs_removed == 1
    assert sorted(key for key in await world.blob_keys() if key.startswith("video/")) == sorted(second)

    assert (
        await client.delete(f"/api/v1/resources/{resource['id']}", headers=world.teacher_auth)
    ).status_code == 204
    await world.process()
    assert not [key for key in await world.blob_keys() if key.startswith("video/")]


async def test_a_broken_recording_fails_clearly_while_the_original_stays(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    data = samples.video_bytes("matroska", duration_s=1.0)
    broken = data[:200] + bytes(len(data) - 200)
    resource = await world.created("坏.mkv", broken, resource_type="lesson_record")
    await world.process()
    video = main_file(await world.detail(resource["id"]))
    status = (await client.get(file_url(resource, video["id"], "video"), headers=world.teacher_auth)).json()
    assert status["status"] == "failed" and status["error"] and status["master_url"] is None
    assert (await client.get(video["content_url"], headers=world.teacher_auth)).status_code == 200
