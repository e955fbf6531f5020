"""Invalid UTF-8 and text no database can store (NUL, lone surrogates), anywhere in a request: always a
4xx in the one error shape, never a 500, on both stacks."""

from __future__ import annotations

import json

import httpx
import pytest

from services.context import AppContext
from tests import samples
from tests.factories import resource_metadata
from tests.services.resources.scenario import district

pytestmark = pytest.mark.anyio

PDF = samples.pdf_bytes(["编码"])


def assert_client_error(response: httpx.Response, *allowed: int) -> None:
    assert response.status_code in (allowed or (400, 422)), (response.request.url, response.text[:300])
    assert response.json()["error"]["code"]


async def test_invalid_utf8_bodies(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    json_auth = world.teacher_auth | {"Content-Type": "application/json"}
    for body in [b'{"name": "\xff\xfe", "code": "X"}', b"\xc0\xaf", b'{"title": "\xed\xa0\x80"}']:
        assert_client_error(await client.post("/api/v1/schools", content=body, headers=json_auth))
        assert_client_error(await client.post("/api/v1/resources", content=body, headers=json_auth))
        assert_client_error(await client.post("/api/v1/uploads", content=body, headers=json_auth))

    login = await client.post(
        "/api/v1/auth/token",
        content=b"username=%FF%FE&password=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_client_error(login, 400, 401, 422)

    boundary = "b"
    for metadata in [b"\xff\xfe", b'{"title": "\xc3\x28"}']:
        form = (
            b'--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n' + metadata + b"\r\n"
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
            + PDF
            + b"\r\n--b--\r\n"
        )
        response = await client.post(
            "/api/v1/resources",
            content=form,
            headers=world.teacher_auth | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert_client_error(response)
    # A file name in invalid UTF-8 is shown back with replacement characters; it is never a path.
    named = (
        b'--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
        + json.dumps(resource_metadata(resource_type="lesson_plan")).encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="\xff\xfe.pdf"\r\n\r\n'
        + PDF
        + b"\r\n--b--\r\n"
    )
    response = await client.post(
        "/api/v1/resources",
        content=named,
        headers=world.teacher_auth | {"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code in {201, 422}, response.text


async def test_invalid_utf8_in_urls_and_headers(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    auth = world.teacher_auth
    for url in [
        "/api/v1/search?q=%FF%FE",
        "/api/v1/search?q=%C0%AF&subject=%ED%A0%80",
        "/api/v1/search/suggest?q=%FF",
        "/api/v1/resources?tag=%FF%FE",
    ]:
        response = await client.get(url, headers=auth)
        assert response.status_code in {200, 422}, (url, response.text)
    for url in ["/api/v1/resources/%FF%FE", "/api/v1/schools/%C0%AE%C0%AE", "/api/v1/uploads/%ED%A0%80"]:
        response = await client.get(url, headers=auth)
        assert_client_error(response, 404, 405, 422)
    bad_token = await client.get("/api/v1/resources", headers={b"Authorization": b"Bearer \xff\xfe\xfd"})
    assert_client_error(bad_token, 401)


NUL = "\u0000"
SURROGATE = "\ud800"


async def test_text_no_database_can_store(client: httpx.AsyncClient, context: AppContext) -> None:
    """NUL (PostgreSQL refuses it in text) and lone surrogates (not encodable as UTF-8 at all)."""
    world = await district(client, context)
    resource = await world.created("a.pdf", PDF)
    for bad in [NUL, SURROGATE, f"正常{NUL}文字", f"a{SURROGATE}b"]:
        body = json.dumps({"title": bad}).encode()  # ensure_ascii: the JSON itself is valid ASCII
        patched = await client.patch(
            f"/api/v1/resources/{resource['id']}",
            content=body,
            headers=world.teacher_auth | {"Content-Type": "application/json"},
        )
        assert_client_error(patched, 422)
        created = await client.post(
            "/api/v1/uploads",
            content=json.dumps({"filename": f"x{bad}.mp4", "size": 10}).encode(),
            headers=world.teacher_auth | {"Content-Type": "application/json"},
        )
        assert_client_error(created, 422)
    # In a URL a surrogate can only arrive as invalid UTF-8 (above); NUL arrives as %00.
    for params in [{"tag": NUL}, {"tags": f"a{NUL}"}, {"subject": NUL}, {"q": NUL}]:
        listed = await client.get("/api/v1/resources", params=params, headers=world.teacher_auth)
        assert listed.status_code in {200, 422}, listed.text
        searched = await client.get("/api/v1/search", params=params, headers=world.teacher_auth)
        assert searched.status_code in {200, 422}, searched.text
