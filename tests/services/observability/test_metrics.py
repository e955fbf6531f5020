"""/metrics over HTTP: the families an operator graphs, parsed with prometheus-client's own parser,
and who may read them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest
from elasticsearch import AsyncElasticsearch
from prometheus_client import Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from search.elastic import ElasticsearchSearchIndex
from services.app import create_app
from services.context import AppContext
from services.jobs.repository import JobRepository
from services.jobs.worker import Worker
from services.observability import metrics
from tests import factories
from tests.samples import pdf_bytes

pytestmark = pytest.mark.anyio

DASHBOARD = Path(__file__).parents[3] / "deploy/grafana/dashboards/jiaoyun.json"
PLAN = pdf_bytes(["教案 树和喜鹊"])


def samples(exposition: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """sample name → (labels, value) of every sample in the exposition."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return found


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(
        value for sample_labels, value in found.get(name, []) if labels.items() <= sample_labels.items()
    )


async def test_metrics_count_requests_searches_sign_ins_and_queues(
    context: AppContext, client: httpx.AsyncClient
) -> None:
    async with context.sessionmaker() as session:
        school = await factories.make_school(session)
        teacher = await factories.make_user(session, school=school)
        await session.commit()
    refused = await client.post(
        "/api/v1/auth/token", data={"username": teacher.username, "password": "not-the-password"}
    )
    assert refused.status_code == 401
    headers = await factories.token_for(client, teacher)
    response = await client.post(
        "/api/v1/resources",
        headers=headers,
        files=factories.upload_form(factories.resource_metadata(), "plan.pdf", PLAN),
    )
    assert response.status_code == 201, response.text
    assert (await client.get("/api/v1/search", params={"q": "树和喜鹊"}, headers=headers)).status_code == 200
    resource_id = response.json()["id"]
    assert (await client.get(f"/api/v1/resources/{resource_id}", headers=headers)).status_code == 200

    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    # By route template, never by the path with its ids.
    assert (
        total(found, "jiaoyun_http_requests_total", route="/api/v1/resources/{resource_id}", status="200")
        >= 1
    )
    assert not [
        labels for labels, _ in found["jiaoyun_http_requests_total"] if resource_id in labels["route"]
    ]
    assert total(found, "jiaoyun_http_request_duration_seconds_count", route="/api/v1/search") >= 1
    backend = "embedded" if context.settings.elasticsearch_url == "" else "elasticsearch"
    assert total(found, "jiaoyun_search_duration_seconds_count", operation="search") >= 1
    assert {labels["backend"] for labels, _ in found["jiaoyun_search_duration_seconds_count"]} & {
        "embedded",
        "elasticsearch",
    }, backend
    assert total(found, "jiaoyun_upload_bytes_total", way="direct") >= len(PLAN)
    assert total(found, "jiaoyun_login_failures_total", method="password") >= 1
    # Read from the database at scrape time: the upload's processing job and its index change wait
    # (no worker runs in these tests).
    assert total(found, "jiaoyun_job_queue_depth") >= 1
    assert total(found, "jiaoyun_search_outbox_backlog") >= 1
    assert "jiaoyun_search_outbox_oldest_age_seconds" in found


async def test_an_unavailable_backend_is_counted_by_name(context: AppContext) -> None:
    nowhere = AsyncElasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0)
    broken = dataclasses.replace(context, search_index=ElasticsearchSearchIndex(nowhere, "jiaoyun-nowhere"))
    try:
        app = create_app(context=broken)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            before = total(
                samples((await http.get("/metrics")).text), "jiaoyun_backend_errors_total", backend="search"
            )
            assert (await http.get("/api/v1/search", params={"q": "课"})).status_code == 503
            after = total(
                samples((await http.get("/metrics")).text), "jiaoyun_backend_errors_total", backend="search"
            )
        assert after == before + 1
    finally:
        await nowhere.close()


async def test_metrics_answer_allowed_networks_or_the_token_only(context: AppContext) -> None:
    guarded = dataclasses.replace(
        context,
        settings=context.settings.model_copy(
            update={"metrics_allow_from": "10.1.0.0/16", "metrics_token": SecretStr("scrape-me")}
        ),
    )
    app = create_app(context=guarded)

    async def scrape(address: str, headers: dict[str, str] | None = None) -> int:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return (await http.get("/metrics", headers=headers)).status_code

    assert await scrape("10.1.2.3") == 200
    assert await scrape("192.0.2.7") == 403
    assert await scrape("192.0.2.7", {"Authorization": "Bearer wrong"}) == 403
    assert await scrape("192.0.2.7", {"Authorization": "Bearer scrape-me"}) == 200
    off = dataclasses.replace(
        context, settings=context.settings.model_copy(update={"metrics_enabled": False})
    )
    transport = httpx.ASGITransport(app=create_app(context=off))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/metrics")).status_code == 404


def test_the_grafana_dashboard_graphs_every_family() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    families = {
        collector._name for collector in vars(metrics).values() if isinstance(collector, Counter | Histogram)
    } | {family.name for family in metrics.queue_families(metrics.QueueFigures({"k": (1, 1.0)}, {}, 0, 0))}
    families.discard("jiaoyun_jobs_by_status")  # a table's figure, not a graph's
    missing = sorted(name for name in families if name not in expressions)
    assert not missing


async def test_jobs_run_and_failed_are_counted_by_kind(context: AppContext) -> None:
    async def explode(_: AppContext, payload: dict[str, object]) -> None:
        raise RuntimeError("this job always fails")

    async def succeed(_: AppContext, payload: dict[str, object]) -> None:
        return None

    async with context.sessionmaker() as session:
        jobs = JobRepository(session)
        jobs.add("metrics_test_fails", {}, max_attempts=1)
        jobs.add("metrics_test_works", {})
        await session.commit()
    before = samples(metrics.exposition().decode())
    worker = Worker(
        context,
        handlers={"metrics_test_fails": explode, "metrics_test_works": succeed},
        failure_hooks={},
        periodic_tasks=[],
    )
    await worker.run_until_idle()
    after = samples(metrics.exposition().decode())

    def grew(kind: str, outcome: str) -> float:
        labels = {"kind": kind, "outcome": outcome}
        return total(after, "jiaoyun_jobs_total", **labels) - total(before, "jiaoyun_jobs_total", **labels)

    assert grew("metrics_test_fails", "failed") == 1
    assert grew("metrics_test_works", "succeeded") == 1
