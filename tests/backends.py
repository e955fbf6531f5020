"""Which real servers this test run has, from the variables scripts/test-servers.sh exports."""

from __future__ import annotations

import os

import pytest

from tests.live import SharedServers

DATABASE_URL = os.environ.get("JIAOYUN_TEST_DATABASE_URL", "")
S3_ENDPOINT = os.environ.get("JIAOYUN_TEST_S3_ENDPOINT", "")
S3_ACCESS_KEY = os.environ.get("JIAOYUN_TEST_S3_ACCESS_KEY", "")
S3_SECRET_KEY = os.environ.get("JIAOYUN_TEST_S3_SECRET_KEY", "")
ELASTICSEARCH_URL = os.environ.get("JIAOYUN_TEST_ELASTICSEARCH_URL", "")
# Set by the README's test command: a missing server is then a failure, never a skip.
REQUIRE_SERVERS = os.environ.get("JIAOYUN_TEST_REQUIRE_SERVERS", "") == "1"

SERVERS = {
    "postgresql": DATABASE_URL,
    "minio": S3_ENDPOINT,
    "elasticsearch": ELASTICSEARCH_URL,
}


def require(server: str) -> None:
    if SERVERS[server]:
        return
    if REQUIRE_SERVERS:
        pytest.fail(f"{server} is required for this run but its URL is not set", pytrace=False)
    pytest.skip(f"{server} not configured (run the README's test command to start it)")


def shared_servers() -> SharedServers:
    """This run's servers, for a tests.live.Tenant of one's own on them (call require() first)."""
    return SharedServers(DATABASE_URL, S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, ELASTICSEARCH_URL)
