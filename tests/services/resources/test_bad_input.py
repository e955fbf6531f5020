"""Bad uploads get a clear 4xx in the one error shape and leave no row and no blob behind."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from services.context import AppContext
from tests import samples
from tests.factories import resource_metadata, upload_form
from tests.services.resources.scenario import District, district

pytestmark = pytest.mark.anyio

PDF = samples.pdf_bytes(["教案"])


async def assert_refused(world: District, response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert await world.row_counts() == (0, 0)
    assert await world.blob_keys() == []
    return error


@pytest.mark.parametrize(
    ("filename", "content", "metadata", "status", "code", "message"),
    [
        (
            "课例.mp4",
            b"this is plain text pretending to be a video",
            {},
            415,
            "unsupported_media_type",
            "课例.mp4",
        ),
        (
            "x.pdf",
            samples.png_bytes(),
            {"resource_type": "lesson_plan"},
            415,
            "unsupported_media_type",
            "png",
        ),
        ("课例.pdf", PDF, {"resource_type": "lesson_record"}, 415, "unsupported_media_type", "video"),
        ("empty.pdf", b"", {}, 422, "invalid_file", "empty"),
        ("../../etc/passwd.pdf", PDF, {}, 422, "invalid_file", "path"),
        ("..\\evil.pdf", PDF, {}, 422, "invalid_file", "path"),
        ("invoice\u202efdp.exe.pdf", PDF, {}, 422, "invalid_file", "control"),
        ("archive.zip", b"PK\x03\x04" + b"\x00" * 100, {}, 415, "unsupported_media_type", "archive.zip"),
        ("a.pdf", PDF, {"resource_type": "poem"}, 422, "invalid_payload", "metadata"),
        ("a.pdf", PDF, {"grade": 13}, 422, "invalid_payload", "metadata"),
        ("a.pdf", PDF, {"grade": 8, "stage": "小学"}, 422, "invalid_payload", "metadata"),
        ("a.pdf", PDF, {"subject": "炼丹"}, 422, "invalid_payload", "metadata"),
        ("a.pdf", PDF, {"title": ""}, 422, "invalid_payload", "metadata"),
    ],
)
async def test_bad_files_and_metadata_are_refused_without_a_trace(
    client: httpx.AsyncClient,
    context: AppContext,
    filename: str,
    content: bytes,
    metadata: dict[str, Any],
    status: int,
    code: str,
    message: str,
) -> None:
    world = await district(client, context)
    response = await client.post(
        "/api/v1/resources",
        files=upload_form(resource_metadata(**metadata), filename, content),
        headers=world.teacher_auth,
    )
    error = await assert_refused(world, response, status, code)
    assert message in error["message"] or message in json.dumps(error["details"], ensure_ascii=False)


async def test_an_oversized_file_is_cut_off_and_removed(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    context.settings.max_image_mb = 1
    too_big = samples.png_bytes() + b"\x00" * (2 * 1024 * 1024)

    response = await client.post(
        "/api/v1/resources",
        files=upload_form(resource_metadata(resource_type="assignment"), "scan.png", too_big),
        headers=world.teacher_auth,
    )

    error = await assert_refused(world, response, 413, "payload_too_large")
    assert "1 MB" in error["message"]


async def test_metadata_sent_after_the_file_is_checked_and_the_blob_removed(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    bad = await client.post(
        "/api/v1/resources",
        files=upload_form(resource_metadata(visibility="everyone"), "a.pdf", PDF, metadata_first=False),
        headers=world.teacher_auth,
    )
    await assert_refused(world, bad, 422, "invalid_payload")

    wrong_kind = await client.post(
        "/api/v1/resources",
        files=upload_form(
            resource_metadata(resource_type="micro_lesson"), "a.pdf", PDF, metadata_first=False
        ),
        headers=world.teacher_auth,
    )
    await assert_refused(world, wrong_kind, 415, "unsupported_media_type")

    good = await client.post(
        "/api/v1/resources",
        files=upload_form(resource_metadata(), "a.pdf", PDF, metadata_first=False),
        headers=world.teacher_auth,
    )
    assert good.status_code == 201, good.text


async def test_malformed_requests(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    no_file = await client.post(
        "/api/v1/resources",
        files={"metadata": (None, json.dumps(resource_metadata()))},
        headers=world.teacher_auth,
    )
    await assert_refused(world, no_file, 422, "invalid_payload")

    not_multipart = await client.post(
        "/api/v1/resources", content=b"hello", headers={**world.teacher_auth, "Content-Type": "text/plain"}
    )
    await assert_refused(world, not_multipart, 422, "invalid_payload")

    broken = await client.post(
        "/api/v1/resources",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
        b"%PDF-1.4 trunc",
        headers={**world.teacher_auth, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code in {400, 422}, broken.text
    assert await world.row_counts() == (0, 0)
    assert await world.blob_keys() == []

    json_without_upload = await client.post(
        "/api/v1/resources", json=resource_metadata(), headers=world.teacher_auth
    )
    await assert_refused(world, json_without_upload, 422, "invalid_payload")

    not_json = await client.post(
        "/api/v1/resources",
        content=b"\xff\xfe",
        headers={**world.teacher_auth, "Content-Type": "application/json"},
    )
    await assert_refused(world, not_json, 422, "invalid_payload")

    two_files = await client.post(
        "/api/v1/resources",
        files=[
            ("metadata", (None, json.dumps(resource_metadata()), "application/json")),
            ("file", ("a.pdf", PDF, "application/pdf")),
            ("file", ("b.pdf", PDF, "application/pdf")),
        ],
        headers=world.teacher_auth,
    )
    await assert_refused(world, two_files, 422, "invalid_payload")

    anonymous = await client.post("/api/v1/resources", files=upload_form(resource_metadata(), "a.pdf", PDF))
    await assert_refused(world, anonymous, 401, "unauthorized")


async def test_numbers_and_names_beyond_their_columns_are_invalid_payloads(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """Out-of-range values get a 422 from validation, never a database error (500) on either engine."""
    world = await district(client, context)
    resource = await world.created("a.pdf", PDF, resource_type="lesson_plan")

    async def add_file(**metadata: Any) -> httpx.Response:
        return await client.post(
            f"/api/v1/resources/{resource['id']}/files",
            files=upload_form({"purpose": "attachment", **metadata}, "b.pdf", PDF),
            headers=world.teacher_auth,
        )

    for metadata in (
        {"version": 10**20},
        {"version": 2**31},
        {"version": 1001},
        {"language": "zh-" + "-".join(["Hans1234"] * 3)},
    ):
        response = await add_file(**metadata)
        assert response.status_code == 422, (metadata, response.text)
        assert response.json()["error"]["code"] == "invalid_payload"
    assert (await add_file(version=1, language="zh-Hans-CN")).status_code == 201

    # NFKC spreads ㍿ into four characters: 20 of them outgrow the edition column after normalizing.
    patched = await client.patch(
        f"/api/v1/resources/{resource['id']}", json={"edition": "㍿" * 20}, headers=world.teacher_auth
    )
    assert patched.status_code == 422, patched.text

    too_big = await client.post(
        "/api/v1/uploads", json={"filename": "a.mp4", "size": 10**20}, headers=world.teacher_auth
    )
    assert too_big.status_code == 413, too_big.text
    for upload in (
        {"filename": "a.mp4", "size": 10**7, "part_size": 512 * 1024 * 1024},
        {"filename": "a.mp4", "size": 10**7, "part_size": 64 * 1024 * 1024 + 1},
    ):
        response = await client.post("/api/v1/uploads", json=upload, headers=world.teacher_auth)
        assert response.status_code == 422, (upload, response.text)
    huge_part = await client.put(
        f"/api/v1/uploads/{uuid.uuid4()}/parts/{10**20}", content=b"x", headers=world.teacher_auth
    )
    assert huge_part.status_code in {404, 422}, huge_part.text
