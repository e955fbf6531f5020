"""A worker SIGKILLed in the middle of a batch, then started again: every job finishes once its lease
runs out, nothing is lost, and the index holds each document once, exactly as the database says."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from search.elastic import ElasticsearchSearchIndex
from services.context import AppContext
from services.indexing.service import pending_index_changes
from services.jobs.repository import JobRepository
from storage.models.resources import FilePage, ProcessingStatus, ResourceFile
from tests import samples
from tests.factories import resource_metadata, upload_form
from tests.live import run_cli
from tests.system.conftest import Figures, Processes
from tests.system.harness import (
    Tenant,
    database_documents,
    expect,
    indexed_documents,
    populate,
    wait_for,
)

pytestmark = [pytest.mark.anyio, pytest.mark.fault]

LEASE_S = 5
# Each kind of file the worker processes: (resource type, file name, bytes, pages it has).
PAGES = ["第一页：导入", "第二页：新授", "第三页：练习"]
FILES = [
    ("lesson_plan", "plan.pdf", samples.pdf_bytes(PAGES), 3),
    ("lesson_plan", "plan.docx", samples.docx_bytes(PAGES), 3),
    ("courseware", "slides.pptx", samples.pptx_bytes(PAGES), 3),
    ("micro_lesson", "lesson.mp4", samples.mp4_bytes(duration_s=2.0), 0),
]
RESOURCES_PER_KIND = 12
KILL_WAIT_S = 60.0
RECOVERY_TIMEOUT_S = 180.0


async def job_counts(context: AppContext) -> Counter[str]:
    async with context.sessionmaker() as session:
        return Counter(await JobRepository(session).count_by_status())


async def test_a_worker_killed_mid_batch_loses_nothing(
    tenant: Tenant, processes: Processes, tmp_path: Path, figures: Figures
) -> None:
    lease = {"JIAOYUN_WORKER_LEASE_S": str(LEASE_S)}
    api = processes.api()
    async with (
        httpx.AsyncClient(base_url=api.base_url, timeout=60) as client,
        tenant.context(tmp_path / "inspect") as context,
    ):
        people = await populate(client, tenant.env(), tmp_path, teachers=2)
        for number in range(RESOURCES_PER_KIND):
            for resource_type, filename, content, _ in FILES:
                title = f"中断测试 {number} {filename}"
                metadata = resource_metadata(resource_type=resource_type, title=title)
                expect(
                    await client.post(
                        "/api/v1/resources",
                        files=upload_form(metadata, filename, content),
                        headers=people.teachers[number % 2],
                    ),
                    201,
                )
        total_jobs = RESOURCES_PER_KIND * len(FILES)
        assert (await job_counts(context))["queued"] == total_jobs

        first = processes.worker("worker-1", **lease)
        state: Counter[str] = Counter()

        async def mid_batch() -> bool:
            # The worker claims up to four jobs at once and runs them one after another: some of the
            # batch are done, the rest still claimed.
            state.clear()
            state.update(await job_counts(context))
            return state["succeeded"] >= 4 and 1 <= state["running"] <= 3

        await wait_for(mid_batch, timeout_s=KILL_WAIT_S, interval_s=0.02, what="a half-done batch")
        first.kill()
        killed_at = time.monotonic()
        at_kill = await job_counts(context)
        assert at_kill["running"] >= 1, at_kill

        processes.worker("worker-2", **lease)

        async def all_done() -> bool:
            counts = await job_counts(context)
            return counts["succeeded"] + counts["failed"] == total_jobs and (
                await pending_index_changes(context) == 0
            )

        recovery_s = await wait_for(all_done, timeout_s=RECOVERY_TIMEOUT_S, what="every job finished")
        final = await job_counts(context)
        assert final == Counter({"succeeded": total_jobs}), final

        async with context.sessionmaker() as session:
            statuses = Counter((await session.scalars(select(ResourceFile.processing_status))).all())
            pages_by_format = await session.execute(
                select(ResourceFile.format, func.count(FilePage.number))
                .join(FilePage, FilePage.file_id == ResourceFile.id)
                .group_by(ResourceFile.format)
            )
            pages = {str(format): int(count) for format, count in pages_by_format.all()}
            posters = (
                await session.scalars(select(ResourceFile.poster_key).where(ResourceFile.format == "mp4"))
            ).all()
        assert statuses == Counter({ProcessingStatus.ready: total_jobs})
        # Pages are replaced, never appended, when a killed job runs again.
        assert pages == {fmt: RESOURCES_PER_KIND * 3 for fmt in ("pdf", "docx", "pptx")}
        assert all(posters) and len(set(posters)) == len(posters)
        for key in posters:
            assert key is not None and await context.blob_store.exists(key)

        assert isinstance(context.search_index, ElasticsearchSearchIndex)
        expected = await database_documents(context)
        indexed, stored = await indexed_documents(context.search_index)
        assert len(expected) == RESOURCES_PER_KIND * (len(FILES) + sum(pages for *_, pages in FILES))
        assert stored == len(indexed) == len(expected)
        assert indexed == expected

    # A killed job may have stored a poster it never recorded; gc removes exactly such blobs.
    gc = await asyncio.to_thread(run_cli, tenant.env(), tmp_path, "gc", "--grace-minutes", "0")
    assert "files missing content: 0" in gc and "posters missing: 0" in gc, gc
    orphans = next(line for line in gc.splitlines() if line.startswith("orphan blobs removed"))
    figures.add(
        f"worker SIGKILLed with {at_kill['running']} of its batch claimed and {at_kill['succeeded']} of "
        f"{total_jobs} jobs done; a new worker finished the rest {recovery_s:.1f} s later "
        f"(lease {LEASE_S} s, "
        f"{time.monotonic() - killed_at:.1f} s incl. checks): {total_jobs} jobs succeeded, 0 failed, "
        f"{stored} index documents = database, no duplicates; gc: {orphans}"
    )
