"""Elasticsearch stopped for a minute while 500 resources are created and edited: every write is
accepted, and once it is back the index holds exactly what the database says, no more, no less."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from search.elastic import ElasticsearchSearchIndex
from services.indexing.service import pending_index_changes
from services.jobs.repository import JobRepository
from tests import samples
from tests.factories import resource_metadata, upload_form
from tests.system.conftest import Figures, Processes
from tests.system.harness import (
    PrivateServers,
    Tenant,
    database_documents,
    expect,
    indexed_documents,
    outage,
    populate,
    wait_for,
)

pytestmark = [pytest.mark.anyio, pytest.mark.fault]

RESOURCES = 500
OUTAGE_S = 60.0
CONCURRENCY = 8
CATCH_UP_TIMEOUT_S = 240.0


async def create_and_edit(
    client: httpx.AsyncClient, teachers: list[dict[str, str]], number: int
) -> tuple[str, str]:
    """One resource with a one-page PDF, then renamed and retagged: (id, final title)."""
    auth = teachers[number % len(teachers)]
    metadata = resource_metadata(title=f"停电期间的教案 {number}", tags=["停电"])
    pdf = samples.pdf_bytes([f"第{number}份教案的正文"])
    created = expect(
        await client.post(
            "/api/v1/resources", files=upload_form(metadata, f"{number}.pdf", pdf), headers=auth
        ),
        201,
    )
    title = f"停电期间的教案 {number}（修订）"
    expect(
        await client.patch(
            f"/api/v1/resources/{created['id']}",
            json={"title": title, "tags": ["停电", "修订"]},
            headers=auth,
        ),
        200,
    )
    return created["id"], title


async def test_a_minute_without_elasticsearch_loses_no_write(
    private_servers: PrivateServers, tenant: Tenant, processes: Processes, tmp_path: Path, figures: Figures
) -> None:
    api = processes.api()
    processes.worker()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as client:
        people = await populate(client, tenant.env(), tmp_path, teachers=5)
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(number: int) -> tuple[str, str]:
            async with slots:
                return await create_and_edit(client, people.teachers, number)

        async with outage(private_servers, "elasticsearch"):
            down_since = time.monotonic()
            written = await asyncio.gather(*(one(number) for number in range(RESOURCES)))
            writes_s = time.monotonic() - down_since
            during = await client.get("/api/v1/search", params={"q": "教案"}, headers=people.teachers[0])
            assert during.status_code == 503, during.text
            assert during.json()["error"]["code"] == "service_unavailable"
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_since)))
            outage_s = time.monotonic() - down_since
        back_since = time.monotonic()

        async with tenant.context(tmp_path / "inspect") as context:

            async def caught_up() -> bool:
                async with context.sessionmaker() as session:
                    jobs = await JobRepository(session).count_by_status()
                busy = jobs.get("queued", 0) + jobs.get("running", 0)
                return busy == 0 and await pending_index_changes(context) == 0

            catch_up_s = await wait_for(caught_up, timeout_s=CATCH_UP_TIMEOUT_S, what="an empty outbox")
            assert isinstance(context.search_index, ElasticsearchSearchIndex)
            expected = await database_documents(context)
            indexed, stored = await indexed_documents(context.search_index)

        # Count: one document per resource and one per PDF page, none twice, none missing.
        assert len(expected) == 2 * RESOURCES
        assert stored == len(indexed) == len(expected)
        # Content: every document exactly as the database would build it now (the edits included).
        assert indexed.keys() == expected.keys()
        different = [key for key in expected if indexed[key] != expected[key]]
        assert different == []
        titles = {document.title for document in indexed.values() if document.kind == "resource"}
        assert titles == {title for _, title in written}

        found = expect(
            await client.get(
                "/api/v1/search",
                params={"q": "修订", "tags": "修订", "kind": "resource", "limit": 1},
                headers=people.admin,
            ),
            200,
        )
        assert found["total"] == RESOURCES

    figures.add(
        f"{RESOURCES} resources created and edited in {writes_s:.1f} s with Elasticsearch down "
        f"(outage {outage_s:.1f} s): all accepted; index caught up {catch_up_s:.1f} s after it was back "
        f"({time.monotonic() - back_since:.1f} s incl. checks); index = database: "
        f"{stored} documents, 0 missing, 0 extra, 0 different"
    )
