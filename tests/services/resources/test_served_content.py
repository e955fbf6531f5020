"""Stored files are served as what their bytes are: never sniffed into a page, never run as one."""

from __future__ import annotations

import httpx
import pytest

from services.context import AppContext
from tests import samples
from tests.services.resources.scenario import district, file_url, main_file

pytestmark = pytest.mark.anyio

POLYGLOT = b"<html><script>alert(document.cookie)</script>%PDF-1.4\n" + samples.pdf_bytes(["x"])[9:]


async def test_an_html_page_with_a_pdf_header_inside_is_refused(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    response = await world.upload("x.html", POLYGLOT, resource_type="lesson_plan")
    assert response.status_code == 415, response.text


async def test_file_content_is_served_with_nosniff_a_sandbox_and_its_real_extension(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    pdf = await world.created("x.html", samples.pdf_bytes(["教案"]), resource_type="lesson_plan")
    image = await world.created("photo.html", samples.png_bytes(), resource_type="assignment")

    shown = await client.get(main_file(pdf)["content_url"], headers=world.teacher_auth)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "application/pdf"
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert shown.headers["content-disposition"].startswith('inline; filename="x.pdf"')
    policy = shown.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy

    downloaded = await client.get(
        main_file(pdf)["content_url"], params={"download": "true"}, headers=world.teacher_auth
    )
    assert downloaded.headers["content-disposition"].startswith('attachment; filename="x.pdf"')
    assert downloaded.headers["content-security-policy"] == "default-src 'none'; sandbox"

    picture = await client.get(main_file(image)["content_url"], headers=world.teacher_auth)
    assert picture.headers["content-type"] == "image/png"
    assert 'filename="photo.png"' in picture.headers["content-disposition"]
    assert picture.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert picture.headers["x-content-type-options"] == "nosniff"

    unchanged = await client.get(
        main_file(image)["content_url"],
        headers=world.teacher_auth | {"If-None-Match": picture.headers["etag"]},
    )
    assert unchanged.status_code == 304
    assert unchanged.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert file_url(image, main_file(image)["id"]) == main_file(image)["content_url"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/api/v1/resources"),
        ("GET", "/api/v1/resources/not-a-uuid"),
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/auth/token"),
        ("GET", "/static/app.css"),
        ("GET", "/login"),
        ("GET", "/openapi.json"),
    ],
)
async def test_every_response_says_nosniff(
    client: httpx.AsyncClient, context: AppContext, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.headers.get("x-content-type-options") == "nosniff", (response.status_code, path)
