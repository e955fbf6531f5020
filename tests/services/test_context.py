"""Start-up with backends that are there but will not serve us: the API starts and /readyz says why."""

from __future__ import annotations

import dataclasses
import logging

import httpx
import pytest
from elasticsearch import AsyncElasticsearch

from search.elastic import ElasticsearchSearchIndex
from services.app import create_app
from services.context import AppContext, prepare_backends
from storage.blobs.s3 import S3BlobStore, make_minio_client
from tests import backends

pytestmark = pytest.mark.anyio


async def test_start_up_survives_wrong_keys_and_wrong_endpoints(
    context: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    backends.require("minio")
    wrong_keys = make_minio_client(
        backends.S3_ENDPOINT, backends.S3_ACCESS_KEY, "not-the-secret", "us-east-1"
    )
    # The search URL pointing at the object store: an HTTP server, but not Elasticsearch.
    not_elasticsearch = AsyncElasticsearch(backends.S3_ENDPOINT, request_timeout=5, max_retries=0)
    broken = dataclasses.replace(
        context,
        blob_store=S3BlobStore(wrong_keys, "jiaoyun-wrong-keys"),
        search_index=ElasticsearchSearchIndex(not_elasticsearch, "jiaoyun-wrong-endpoint"),
    )
    try:
        with caplog.at_level(logging.WARNING, logger="services.context"):
            await prepare_backends(broken, migrate=False)
        warnings = [record.getMessage() for record in caplog.records if record.name == "services.context"]
        assert warnings == [
            "blob store not ready at start-up; /readyz will report it",
            "search index not ready at start-up; /readyz will report it",
        ]
        app = create_app(context=broken)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["blob_store"] == "unavailable: BlobStoreUnavailable"
        assert checks["search_index"].startswith("unavailable")
    finally:
        await not_elasticsearch.close()
