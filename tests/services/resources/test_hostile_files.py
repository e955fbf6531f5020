"""Hostile files: names that are paths or smuggle headers, and Office documents that are zip bombs.

A name is only ever shown back (the blob key is Jiaoyun's own), so path names are refused with 422
at every door a file comes in by, and odd names that are accepted come back quoted safely. A bomb
is accepted as bytes and refused by the worker before anything is decompressed; the worker carries
on with the next file.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import select

from services.context import AppContext
from storage.models.resources import ResourceFile
from tests import samples
from tests.factories import resource_metadata
from tests.services.resources.scenario import District, district, main_file

pytestmark = pytest.mark.anyio

PDF = samples.pdf_bytes(["正常的教案"])
PATH_NAMES = [
    "../../etc/passwd.pdf",
    "..\\..\\windows\\win.ini.pdf",
    "/etc/passwd.pdf",
    "....//....//x.pdf",
    "a/../../b.pdf",
    "..",
    ".",
    "..pdf",
    "a\x00.pdf",
    "evil\u202etxt.pdf",
    "a\u200b.pdf",
    "x" * 300 + ".pdf",
    " ",
]
# Plain names that look dangerous but are only text: accepted, never used as a path.
ODD_NAMES = [
    '"; filename="evil.exe.pdf',
    "%2e%2e%2fpasswd.pdf",
    "／etc／passwd.pdf",  # fullwidth solidus
    "a∕b.pdf",  # division slash
    "<script>.pdf",
    "课件 (最终版)【1】.pdf",
]
BLOB_KEY = re.compile(r"^res/[0-9a-f/-]+$")


async def assert_refused_name(response: httpx.Response, name: str) -> None:
    assert response.status_code == 422, (name, response.text)
    assert response.json()["error"]["code"] in {"invalid_file", "invalid_payload"}, name


async def stored_keys(context: AppContext) -> list[str]:
    async with context.sessionmaker() as session:
        return list((await session.scalars(select(ResourceFile.blob_key))).all())


async def test_path_names_are_refused_at_every_door(client: httpx.AsyncClient, context: AppContext) -> None:
    world = await district(client, context)
    resource = await world.created("ok.pdf", PDF)
    doors = [
        ("POST", "/api/v1/resources", resource_metadata(resource_type="lesson_plan")),
        ("POST", f"/api/v1/resources/{resource['id']}/files", {"purpose": "attachment"}),
        ("POST", f"/api/v1/resources/{resource['id']}/versions", {}),
        ("PUT", f"/api/v1/resources/{resource['id']}/files/{main_file(resource)['id']}/content", None),
    ]
    for name in PATH_NAMES:
        for method, url, metadata in doors:
            upload = raw_upload(name, PDF, metadata)
            response = await client.request(
                method, url, content=upload["content"], headers=world.teacher_auth | upload["headers"]
            )
            await assert_refused_name(response, f"{method} {url} {name!r}")
        resumable = await client.post(
            "/api/v1/uploads", json={"filename": name, "size": 10}, headers=world.teacher_auth
        )
        await assert_refused_name(resumable, name)

    # In multipart a line break ends the part's header, so such a name never arrives whole; as JSON it does.
    injected = "a.pdf\r\nSet-Cookie: session=1"
    json_door = await client.post(
        "/api/v1/uploads", json={"filename": injected, "size": 10}, headers=world.teacher_auth
    )
    await assert_refused_name(json_door, injected)
    upload = raw_upload(injected, PDF, resource_metadata(resource_type="lesson_plan"))
    multipart = await client.post(
        "/api/v1/resources", content=upload["content"], headers=world.teacher_auth | upload["headers"]
    )
    if multipart.status_code == 201:
        kept = main_file(multipart.json())["filename"]
        assert "\r" not in kept and "\n" not in kept and "Set-Cookie" not in kept, kept
        expect_rows = (2, 2)
    else:
        assert multipart.status_code == 422, multipart.text
        expect_rows = (1, 1)

    assert await world.row_counts() == expect_rows
    assert sorted([key async for key in context.blob_store.list_keys("")]) == sorted(
        await stored_keys(context)
    )


def raw_upload(name: str, content: bytes, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """httpx arguments for a multipart body naming the file exactly ``name`` (httpx itself would
    percent-encode quotes and control characters), with a metadata field first unless it is None."""
    boundary = "hostile-boundary"
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    head = ""
    if metadata is not None:
        text = json.dumps(metadata, ensure_ascii=False)
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{text}\r\n'
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n\r\n'
    return {
        "content": head.encode() + content + f"\r\n--{boundary}--\r\n".encode(),
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    }


async def test_odd_names_are_kept_as_text_and_served_quoted(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    for name in ODD_NAMES:
        upload = raw_upload(name, PDF, resource_metadata(resource_type="lesson_plan"))
        response = await client.post(
            "/api/v1/resources", content=upload["content"], headers=world.teacher_auth | upload["headers"]
        )
        assert response.status_code == 201, (name, response.text)
        resource = response.json()
        file = main_file(resource)
        assert file["filename"] == name
        served = await client.get(
            f"/api/v1/resources/{resource['id']}/files/{file['id']}/content",
            params={"download": "true"},
            headers=world.teacher_auth,
        )
        assert served.status_code == 200, served.text
        disposition = served.headers["content-disposition"]
        # One header, one quoted ASCII fallback without quotes inside, the real name percent-encoded.
        assert "\r" not in disposition and "\n" not in disposition
        parts = re.fullmatch(r'attachment; filename="([^"\\]*)"; filename\*=UTF-8\'\'(\S+)', disposition)
        assert parts is not None, disposition
        assert unquote(parts.group(2)) == name
    # A browser that sends a whole Windows path (old IE) gets its base name kept.
    upload = raw_upload("C:\\Users\\老师\\教案.pdf", PDF, resource_metadata(resource_type="lesson_plan"))
    windows = await client.post(
        "/api/v1/resources", content=upload["content"], headers=world.teacher_auth | upload["headers"]
    )
    assert windows.status_code == 201 and main_file(windows.json())["filename"] == "教案.pdf"
    for key in await stored_keys(context):
        assert BLOB_KEY.match(key), key


# -- zip bombs -------------------------------------------------------------------------------------


def with_entry(package: bytes, name: str, data: bytes) -> bytes:
    output = io.BytesIO(package)
    with zipfile.ZipFile(output, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return output.getvalue()


def lying_about(package: bytes, name: str, declared: int) -> bytes:
    """The package with ``name`` replaced by a deflate bomb whose directory claims ``declared`` bytes.

    The ratio and total-size checks read the central directory, so they pass; what protects us then
    is that zipfile never yields more than an entry's declared size.
    """
    source = zipfile.ZipFile(io.BytesIO(package))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == name:
                data = data + b"<!--" + b" " * (200 * 1024 * 1024) + b"-->"
            archive.writestr(info.filename, data)
    raw = bytearray(output.getvalue())
    encoded = name.encode()
    for signature, size_offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            name_offset = 46 if signature == b"PK\x01\x02" else 30
            if raw[start + name_offset : start + name_offset + len(encoded)] == encoded:
                struct.pack_into("<I", raw, start + size_offset, declared)
            start += 4
    return bytes(raw)


ZEROS = bytes(200 * 1024 * 1024)
BOMBS = [
    (
        "docx",
        "lesson_plan",
        with_entry(samples.docx_bytes(["正常内容"]), "word/media/image1.bin", ZEROS),
        "suspiciously compressed",
    ),
    (
        "pptx",
        "courseware",
        with_entry(samples.pptx_bytes(["正常内容"]), "ppt/media/image1.bin", ZEROS),
        "suspiciously compressed",
    ),
    (
        "docx",
        "lesson_plan",
        lying_about(samples.docx_bytes(["正常内容"]), "word/document.xml", 4096),
        "could not be read",
    ),
    (
        "pptx",
        "courseware",
        lying_about(samples.pptx_bytes(["正常内容"]), "ppt/slides/slide1.xml", 4096),
        "could not be read",
    ),
]


async def processed(world: District, resource: dict[str, Any]) -> dict[str, Any]:
    return main_file(await world.detail(resource["id"]))


async def test_office_zip_bombs_are_refused_by_the_worker_which_carries_on(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    world = await district(client, context)
    bombs = []
    for format, resource_type, content, _ in BOMBS:
        assert len(content) < 2 * 1024 * 1024  # small on the wire
        bombs.append(await world.created(f"炸弹.{format}", content, resource_type=resource_type))
    fine = await world.created("正常.pdf", PDF, resource_type="lesson_plan")

    await world.process()

    for resource, (_, _, _, message) in zip(bombs, BOMBS, strict=True):
        file = await processed(world, resource)
        assert file["processing_status"] == "failed", file
        assert message in file["processing_error"], file["processing_error"]
    assert (await processed(world, fine))["processing_status"] == "ready"
    # A refused document still downloads: it is the teacher's file, only its text is not searched.
    bomb_file = main_file(bombs[0])
    served = await client.get(
        f"/api/v1/resources/{bombs[0]['id']}/files/{bomb_file['id']}/content", headers=world.teacher_auth
    )
    assert served.status_code == 200 and len(served.content) == bomb_file["size"]
