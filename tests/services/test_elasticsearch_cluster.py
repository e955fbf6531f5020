"""JIAOYUN_ELASTICSEARCH_URL with several nodes, credentials and a CA bundle, and index shards and
replicas from settings, against the real test Elasticsearch."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from search.documents import AccessFilter, SearchQuery
from services.context import build_search_index, elasticsearch_options
from services.settings import Settings
from tests import backends, factories

pytestmark = pytest.mark.anyio

DEAD_NODE = "http://127.0.0.1:9"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key=SecretStr("cluster-test-secret"),
        elasticsearch_url=f"{DEAD_NODE}, {backends.ELASTICSEARCH_URL}",
        search_index_prefix=f"jiaoyun-cluster-{uuid.uuid4().hex[:8]}",
        **overrides,  # type: ignore[arg-type]
    )


def test_nodes_credentials_and_ca_bundle_reach_the_client(tmp_path: Path) -> None:
    with_key = _settings(
        tmp_path,
        elasticsearch_api_key=SecretStr("a2V5OnNlY3JldA=="),
        elasticsearch_ca_cert="/etc/ssl/certs/ca-certificates.crt",
    )
    options = elasticsearch_options(with_key)
    assert options["hosts"] == [DEAD_NODE, backends.ELASTICSEARCH_URL]
    assert options["api_key"] == "a2V5OnNlY3JldA=="
    assert options["ca_certs"] == "/etc/ssl/certs/ca-certificates.crt"
    with_user = _settings(tmp_path, elasticsearch_username="jiaoyun", elasticsearch_password=SecretStr("pw"))
    assert elasticsearch_options(with_user)["basic_auth"] == ("jiaoyun", "pw")
    assert "api_key" not in elasticsearch_options(with_user)


async def test_a_dead_node_is_passed_over_and_shards_and_replicas_come_from_settings(tmp_path: Path) -> None:
    backends.require("elasticsearch")
    settings = _settings(tmp_path, elasticsearch_shards=2, elasticsearch_replicas=0)
    index = build_search_index(settings)
    try:
        await index.ensure_ready()
        await index.upsert([factories.search_document(title="集群里的树和喜鹊")])
        await index.refresh()
        result = await index.search(SearchQuery(text="树和喜鹊", access=AccessFilter(see_everything=True)))
        assert result.total == 1
        async with httpx.AsyncClient(base_url=backends.ELASTICSEARCH_URL) as http:
            answer = await http.get(f"/{settings.search_index_prefix}-search/_settings")
            (index_settings,) = [entry["settings"]["index"] for entry in answer.json().values()]
        assert (index_settings["number_of_shards"], index_settings["number_of_replicas"]) == ("2", "0")
    finally:
        await index.close()
        async with httpx.AsyncClient(base_url=backends.ELASTICSEARCH_URL) as http:
            found = await http.get(f"/{settings.search_index_prefix}-*")
            for name in found.json():
                await http.delete(f"/{name}")
