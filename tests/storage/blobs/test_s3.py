"""S3 specifics: a store that answers but refuses us is unavailable (503), never an unexpected error."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from storage.blobs.base import BlobStoreUnavailable, new_blob_key
from storage.blobs.s3 import S3BlobStore, make_minio_client
from tests import backends

pytestmark = pytest.mark.anyio


async def one_chunk() -> AsyncIterator[bytes]:
    yield b"lesson"


async def read(store: S3BlobStore, key: str) -> None:
    async for _ in store.get(key):
        pass


def operations(store: S3BlobStore) -> dict[str, Callable[[], Awaitable[object]]]:
    key = new_blob_key("resources")
    return {
        "ensure_ready": store.ensure_ready,
        "ping": store.ping,
        "put": lambda: store.put(key, one_chunk()),
        "get": lambda: read(store, key),
        "stat": lambda: store.stat(key),
        "delete": lambda: store.delete(key),
        "create_multipart_upload": lambda: store.create_multipart_upload(key, content_type="video/mp4"),
    }


async def unavailable_everywhere(store: S3BlobStore, reason: str) -> list[str]:
    """The operations that did anything but raise BlobStoreUnavailable with this reason."""
    wrong = []
    for name, operation in operations(store).items():
        try:
            await operation()
        except BlobStoreUnavailable as exc:
            if not re.search(reason, str(exc)):
                wrong.append(f"{name}: {exc}")
        except Exception as exc:
            wrong.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            wrong.append(f"{name}: succeeded")
    return wrong


async def test_wrong_credentials_make_the_store_unavailable() -> None:
    backends.require("minio")
    client = make_minio_client(backends.S3_ENDPOINT, backends.S3_ACCESS_KEY, "not-the-secret", "us-east-1")
    store = S3BlobStore(client, "jiaoyun-wrong-key")
    assert await unavailable_everywhere(store, "SignatureDoesNotMatch|AccessDenied") == []


class ProxyErrorPage(http.server.BaseHTTPRequestHandler):
    """What a reverse proxy in front of a missing store answers: an HTML page, not S3's XML."""

    def _refuse(self) -> None:
        body = b"<html><body><h1>403 Forbidden</h1></body></html>"
        self.send_response(403)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy_error_page() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ProxyErrorPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_an_endpoint_that_is_not_s3_makes_the_store_unavailable(proxy_error_page: str) -> None:
    client = make_minio_client(proxy_error_page, "k", "s", "us-east-1")
    assert await unavailable_everywhere(S3BlobStore(client, "jiaoyun-not-s3"), "object storage") == []
