"""What reaches the real server before the app does: huge request lines and headers, raw invalid UTF-8
in the path. Each gets a 4xx or a closed connection, never a 5xx, and the server keeps serving."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import ApiProcess, start_api


@pytest.fixture(scope="module")
def embedded_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    workdir = tmp_path_factory.mktemp("serve-limits")
    env = {"JIAOYUN_DATA_DIR": str(Path(workdir) / "data"), "JIAOYUN_SECRET_KEY": "serve-limits-secret"}
    api = start_api(env, workdir)
    try:
        yield api
    finally:
        api.stop()


def raw_exchange(api: ApiProcess, request: bytes) -> bytes:
    """Send bytes as they are (no client would let us) and read what comes back until it closes."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as connection:
        try:
            connection.sendall(request)
        except OSError:
            return b""  # the server closed before taking it all: also a refusal
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
        return answer


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /api/v1/search?q=" + b"x" * 200_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /api/v1/search HTTP/1.1\r\nHost: a\r\n" + b"X-Junk: " + b"y" * 200_000 + b"\r\n\r\n",
        b"GET /api/v1/search HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-%d: 1\r\n" % n for n in range(20_000))
        + b"\r\n",
        b"GET /api/v1/resources/\xff\xfe HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /api/v1/search?q=\xff\xfe%00 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\xff\xfe\xfd\r\n\r\n",
    ],
    ids=[
        "200 KB request line",
        "200 KB header",
        "20 000 headers",
        "raw bytes in path",
        "raw bytes in query",
        "garbage",
    ],
)
def test_oversized_or_broken_requests_are_refused_and_the_server_goes_on(
    embedded_api: ApiProcess, request_bytes: bytes
) -> None:
    status = status_of(raw_exchange(embedded_api, request_bytes))
    assert status is None or 400 <= status < 500, status
    assert httpx.get(f"{embedded_api.base_url}/healthz", timeout=10).status_code == 200
    assert "unhandled error" not in embedded_api.log_text()
