"""A real `jiaoyun serve` for browser tests, on a free port, with a small district signed up through the API.

Embedded: SQLite, local disk and FTS5 in a temporary data directory, the worker in the same process.
Servers: PostgreSQL, MinIO and Elasticsearch from the JIAOYUN_TEST_* variables, with a database,
bucket and index prefix of this site's own, removed again when it stops.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests import backends
from tests.live import ApiProcess, Tenant, free_ports, run_cli, run_in_new_loop, start_api

SECRET_KEY = "web-test-secret-key-not-for-production"
PASSWORD = "web-password-1"
READY_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    role: str
    password: str = PASSWORD


@dataclass
class Site:
    kind: str
    server: ApiProcess
    people: dict[str, Person] = field(default_factory=dict)
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.base_url

    def api(self, person: str | None = None) -> httpx.Client:
        """An API client, signed in as one of the people with a bearer token when named."""
        headers = {}
        if person is not None:
            who = self.people[person]
            response = httpx.post(
                f"{self.url}/api/v1/auth/token",
                data={"username": who.username, "password": who.password},
                timeout=30,
            )
            response.raise_for_status()
            headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return httpx.Client(base_url=self.url, timeout=30, headers=headers)

    def approve_publishing(self, resource_ids: list[str]) -> None:
        """The district admin approves what these resources wait for (publishing to the district or
        the public waits for review), as a reviewer would from the queue."""
        with self.api("admin") as admin:
            for resource_id in resource_ids:
                waiting = admin.get(f"/api/v1/review/subjects/resource/{resource_id}")
                waiting.raise_for_status()
                request = waiting.json()["request"]
                assert request is not None and request["state"] == "pending", request
                admin.post(f"/api/v1/review/requests/{request['id']}/approve", json={}).raise_for_status()

    def stop(self) -> None:
        self.server.stop()
        _clean_up(self.cleanup)


def _clean_up(cleanup: list[Callable[[], None]]) -> None:
    for action in reversed(cleanup):
        try:
            action()
        except Exception as exc:  # cleanup is best effort; the test's outcome stands
            print(f"web site cleanup failed: {exc}", file=sys.stderr)


def _server_stack(cleanup: list[Callable[[], None]]) -> dict[str, str]:
    for server in ("postgresql", "minio", "elasticsearch"):
        backends.require(server)
    tenant = Tenant(backends.shared_servers(), purpose="web")
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    run_in_new_loop(tenant.create_database())
    cleanup.append(lambda: run_in_new_loop(tenant.drop_database()))
    cleanup.append(tenant.remove_bucket)
    cleanup.append(tenant.remove_indices)
    # One process is the whole site here, as in embedded mode.
    return tenant.env() | {"JIAOYUN_EMBEDDED_WORKER": "true"}


def start_site(kind: str, workdir: Path) -> Site:
    cleanup: list[Callable[[], None]] = []
    port = free_ports(1)[0]
    env = {
        "JIAOYUN_DATA_DIR": str(workdir / "data"),
        "JIAOYUN_SECRET_KEY": SECRET_KEY,
        "JIAOYUN_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "JIAOYUN_WORKER_POLL_INTERVAL_S": "0.2",
        # Small renditions, fast: two rungs even for the tests' 320×240 clips, so quality can switch.
        "JIAOYUN_VIDEO_LADDER": "[120, 240]",
        "JIAOYUN_VIDEO_PRESET": "ultrafast",
    }
    try:
        if kind == "servers":
            env.update(_server_stack(cleanup))
        server = start_api(env, workdir, port=port, name=f"server-{kind}", ready_timeout_s=READY_TIMEOUT_S)
    except BaseException:
        _clean_up(cleanup)
        raise
    site = Site(kind, server, cleanup=cleanup)
    try:
        _sign_up_district(site, env)
    except BaseException:
        site.stop()
        raise
    return site


def _sign_up_district(site: Site, env: dict[str, str]) -> None:
    """An administrator from the command line, then a school, two teachers and a student via the API."""
    admin = Person("admin", "区管理员", "district_admin")
    run_cli(
        env,
        site.server.workdir,
        "admin",
        "create",
        "--username",
        admin.username,
        "--password",
        admin.password,
        "--display-name",
        admin.display_name,
    )
    site.people["admin"] = admin
    with site.api("admin") as client:
        school = client.post(
            "/api/v1/schools", json={"name": "金水区实验小学", "code": "JSSY", "stages": "小学"}
        )
        school.raise_for_status()
        for key, person in {
            "teacher": Person("wang.laoshi", "王老师", "teacher"),
            "colleague": Person("li.laoshi", "李老师", "teacher"),
            "student": Person("xiaoming", "小明", "student"),
        }.items():
            created = client.post(
                "/api/v1/users",
                json={
                    "username": person.username,
                    "display_name": person.display_name,
                    "password": person.password,
                    "role": person.role,
                    "school_id": school.json()["id"],
                },
            )
            created.raise_for_status()
            site.people[key] = person
        rubric = client.post(
            "/api/v1/rubrics",
            json={
                "name": "课堂观察量表",
                "criteria": [
                    {"name": "教学目标达成", "min_score": 0, "max_score": 10},
                    {"name": "师生互动", "min_score": 0, "max_score": 10},
                ],
            },
        )
        rubric.raise_for_status()
