from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from elasticsearch import AsyncElasticsearch

from search.elastic import ElasticsearchSearchIndex
from search.embedded import EmbeddedSearchIndex
from services.app import create_app
from services.context import AppContext
from services.health import router as health_router
from storage.blobs.s3 import S3BlobStore, make_minio_client

pytestmark = pytest.mark.anyio


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_everything_is_reachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "blob_store": "ok", "search_index": "ok"}


async def test_readyz_names_the_unreachable_dependency(context: AppContext, tmp_path: Path) -> None:
    # Nothing listens on port 9 (discard) of loopback; the search index file was never initialised.
    dead_store = S3BlobStore(make_minio_client("http://127.0.0.1:9", "k", "s", "us-east-1"), "nowhere")
    broken = dataclasses.replace(
        context, blob_store=dead_store, search_index=EmbeddedSearchIndex(tmp_path / "never-initialised.db")
    )
    app = create_app(context=broken)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["blob_store"].startswith("unavailable")
    assert body["checks"]["search_index"].startswith("unavailable")
    assert body["error"]["code"] == "service_unavailable"
    assert "blob_store" in body["error"]["message"]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers (a hung dependency)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # connections complete in the backlog; nothing ever reads them
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


async def test_readyz_checks_everything_at_once(
    context: AppContext, silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two hung dependencies cost one timeout, not two: the checks run concurrently."""
    monkeypatch.setattr(health_router, "CHECK_TIMEOUT_S", 1.0)
    hung_store = S3BlobStore(make_minio_client(silent_server, "k", "s", "us-east-1"), "nowhere")
    hung_index = ElasticsearchSearchIndex(AsyncElasticsearch(silent_server, request_timeout=30), "hung")
    app = create_app(context=dataclasses.replace(context, blob_store=hung_store, search_index=hung_index))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        started = time.monotonic()
        response = await http.get("/readyz")
        elapsed = time.monotonic() - started
    await hung_index.close()
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "blob_store": "unavailable: TimeoutError",
        "search_index": "unavailable: TimeoutError",
    }
    assert 1.0 <= elapsed < 1.8, elapsed
