"""PostgreSQL restarted under load: while it is down requests get a clean 503, and afterwards the same
API and worker processes serve again by themselves, with no restart of their own."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.factories import resource_metadata, upload_form
from tests.system.conftest import Figures, Processes
from tests.system.harness import PrivateServers, Tenant, expect, outage, populate, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.fault]

CLIENTS = 8
LOAD_BEFORE_S = 5.0
DOWN_S = 10.0
# Once PostgreSQL accepts connections again, requests must succeed within this long ...
RECOVERY_LIMIT_S = 15.0
# ... and keep succeeding for this long, with no error at all.
LOAD_AFTER_S = 15.0


@dataclass
class Outcome:
    at: float
    what: str
    status: int  # 0: the client got no answer


@dataclass
class Load:
    client: httpx.AsyncClient
    teachers: list[dict[str, str]]
    usernames: list[str]
    resource_ids: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def user(self, number: int) -> None:
        auth = self.teachers[number % len(self.teachers)]
        pdf = samples.pdf_bytes([f"压力 {number}"])
        for step in itertools.count():
            if self.stop.is_set():
                return
            kind = step % 5
            if kind == 0:
                what, call = "list", self.client.get("/api/v1/resources", headers=auth)
            elif kind == 1:
                what, call = "search", self.client.get("/api/v1/search", params={"q": "压力"}, headers=auth)
            elif kind == 2:
                resource_id = self.resource_ids[step % len(self.resource_ids)]
                what, call = "detail", self.client.get(f"/api/v1/resources/{resource_id}", headers=auth)
            elif kind == 3:
                what = "upload"
                call = self.client.post(
                    "/api/v1/resources",
                    files=upload_form(resource_metadata(title=f"压力测试 {number}-{step}"), "p.pdf", pdf),
                    headers=auth,
                )
            else:
                what = "sign-in"
                call = self.client.post(
                    "/api/v1/auth/token",
                    data={"username": self.usernames[number % len(self.usernames)], "password": "wrong"},
                )
            try:
                status = (await call).status_code
            except httpx.TransportError:
                status = 0
            self.outcomes.append(Outcome(time.monotonic(), what, status))
            await asyncio.sleep(0.05)


def by_kind(outcomes: list[Outcome]) -> Counter[tuple[str, int]]:
    return Counter((outcome.what, outcome.status) for outcome in outcomes)


async def test_the_api_recovers_from_a_database_restart_by_itself(
    private_servers: PrivateServers, tenant: Tenant, processes: Processes, tmp_path: Path, figures: Figures
) -> None:
    # The load signs in with wrong passwords: no lockout (429) should get in the way of the count.
    api = processes.api(JIAOYUN_LOGIN_MAX_FAILURES="1000000")
    worker = processes.worker()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        people = await populate(client, tenant.env(), tmp_path, teachers=2)
        pdf = samples.pdf_bytes(["压力测试种子"])
        seeded = [
            expect(
                await client.post(
                    "/api/v1/resources",
                    files=upload_form(resource_metadata(title=f"压力 {n}"), f"{n}.pdf", pdf),
                    headers=people.teachers[0],
                ),
                201,
            )["id"]
            for n in range(5)
        ]
        usernames = ["nobody-1", "nobody-2"]
        load = Load(client, people.teachers, usernames, seeded)
        users = [asyncio.create_task(load.user(number)) for number in range(CLIENTS)]
        try:
            await asyncio.sleep(LOAD_BEFORE_S)
            down_at = time.monotonic()
            async with outage(private_servers, "postgres"):
                await asyncio.sleep(DOWN_S)
            up_at = time.monotonic()

            async def answering() -> bool:
                recent = [o for o in load.outcomes if o.at > time.monotonic() - 1.0]
                return bool(recent) and all(o.status < 500 and o.status != 0 for o in recent)

            recovery_s = await wait_for(
                answering, timeout_s=RECOVERY_LIMIT_S, interval_s=0.2, what="error-free requests"
            )
            recovered_at = time.monotonic()
            await asyncio.sleep(LOAD_AFTER_S)
        finally:
            load.stop.set()
            await asyncio.gather(*users)

        assert api.running and worker.running  # the same processes, never restarted
        before = [o for o in load.outcomes if o.at < down_at]
        during = [o for o in load.outcomes if down_at <= o.at < up_at]
        after = [o for o in load.outcomes if o.at >= recovered_at]
        expected_ok = {"list": 200, "search": 200, "detail": 200, "upload": 201, "sign-in": 401}
        assert all(o.status == expected_ok[o.what] for o in before), by_kind(before)
        assert all(o.status == expected_ok[o.what] for o in after), by_kind(after)
        # While it is down, a request that needs the database gets 503, never a 500 or a dropped line.
        during_statuses = Counter(o.status for o in during)
        assert set(during_statuses) <= {503, *expected_ok.values()}, by_kind(during)
        assert during_statuses[503] > 0

        # The worker reconnected too: an upload made now is processed.
        fresh = expect(
            await client.post(
                "/api/v1/resources",
                files=upload_form(resource_metadata(title="重启之后"), "after.pdf", pdf),
                headers=people.teachers[0],
            ),
            201,
        )

        async def processed() -> bool:
            detail = expect(
                await client.get(f"/api/v1/resources/{fresh['id']}", headers=people.teachers[0]), 200
            )
            return bool(detail["processing_status"] == "ready")

        await wait_for(processed, timeout_s=60, what="the new upload processed")

    assert "unhandled error" not in api.log_text()
    figures.add(
        f"PostgreSQL down {up_at - down_at:.1f} s under {CLIENTS} clients: {len(during)} requests meanwhile "
        f"answered {dict(sorted(during_statuses.items()))}, 0 answered 500; the same API process served "
        f"error-free {recovery_s:.1f} s after PostgreSQL was back; {len(after)} requests in the next "
        f"{LOAD_AFTER_S:.0f} s, 0 errors; worker processed a new upload"
    )
