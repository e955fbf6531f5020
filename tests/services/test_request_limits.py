"""Bodies read whole are capped (413 in the one error shape); streamed uploads are not held to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from services.context import AppContext
from services.request_limits import MAX_BODY_BYTES
from tests import samples
from tests.factories import resource_metadata, upload_form
from tests.services.resources.scenario import district

pytestmark = pytest.mark.anyio

OVER = MAX_BODY_BYTES + 1


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "payload_too_large" and "KiB" in error["message"]


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def test_oversized_json_is_refused_before_it_is_read(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    huge = json.dumps({"name": "学" * OVER, "code": "X1"}).encode()
    auth = world.teacher_auth | {"Content-Type": "application/json"}

    declared = await client.post("/api/v1/schools", content=huge, headers=auth)
    assert_too_large(declared)
    # No Content-Length (chunked): refused once the bytes received pass the ceiling.
    streamed = await client.post("/api/v1/schools", content=chunked(huge), headers=auth)
    assert_too_large(streamed)
    # The JSON form of a resource upload reads its body whole too.
    metadata = json.dumps(resource_metadata(description="x" * OVER)).encode()
    resource = await client.post("/api/v1/resources", content=metadata, headers=auth)
    assert_too_large(resource)
    # So does a sign-in form.
    form = await client.post(
        "/api/v1/auth/token",
        content=b"username=a&password=" + b"x" * OVER,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_too_large(form)


async def test_deeply_nested_json_is_a_bad_request(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    deep = await client.post(
        "/api/v1/resources",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers=world.teacher_auth | {"Content-Type": "application/json"},
    )
    # Nesting the JSON parser refuses is a bad request, not a crash.
    assert 400 <= deep.status_code < 500, deep.text


async def test_streamed_uploads_are_not_held_to_the_ceiling(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    big_pdf = samples.pdf_bytes(["大文件"]) + b"\n%" + b"x" * (3 * MAX_BODY_BYTES)
    created = await client.post(
        "/api/v1/resources",
        files=upload_form(resource_metadata(resource_type="lesson_plan"), "big.pdf", big_pdf),
        headers=world.teacher_auth,
    )
    assert created.status_code == 201, created.text

    part_size = 5 * 1024 * 1024
    upload = await client.post(
        "/api/v1/uploads",
        json={"filename": "录像.mp4", "size": part_size + 10, "part_size": part_size},
        headers=world.teacher_auth,
    )
    assert upload.status_code == 201, upload.text
    part = await client.put(
        f"/api/v1/uploads/{upload.json()['id']}/parts/1",
        content=samples.mp4_bytes() + bytes(part_size - len(samples.mp4_bytes())),
        headers=world.teacher_auth | {"Content-Type": "application/octet-stream"},
    )
    assert part.status_code == 200, part.text
