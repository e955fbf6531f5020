"""A real `jiaoyun serve` for browser tests, on a free port, with a small district signed up through the API.

Embedded: SQLite, local disk and FTS5 in a temporary data directory, the worker in the same process.
Servers: PostgreSQL, MinIO and Elasticsearch from the JIAOYUN_TEST_* variables, with a database,
bucket and index prefix of this site's own, removed again when it stops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.blobs.s3 import make_minio_client
from tests import backends

JIAOYUN = Path(sys.executable).parent / "jiaoyun"
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
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    people: dict[str, Person] = field(default_factory=dict)
    cleanup: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for action in reversed(self.cleanup):
            try:
                action()
            except Exception as exc:  # cleanup is best effort; the test's outcome stands
                print(f"web site cleanup failed: {exc}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(site: Site) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(base_url=site.url, timeout=5) as client:
        while time.monotonic() < deadline:
            if site.process.poll() is not None:
                raise RuntimeError(f"jiaoyun serve exited ({site.process.returncode}):\n{site.log_tail()}")
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"/readyz not 200 after {READY_TIMEOUT_S:.0f} s:\n{site.log_tail()}")


async def _autocommit_async(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _autocommit(url: str, statement: str) -> None:
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _autocommit_async(url, statement)).result()


def _server_stack(tag: str, cleanup: list[Any]) -> dict[str, str]:
    for server in ("postgresql", "minio", "elasticsearch"):
        backends.require(server)
    database = f"jiaoyun_web_{tag}"
    _autocommit(backends.DATABASE_URL, f'CREATE DATABASE "{database}"')
    cleanup.append(
        lambda: _autocommit(backends.DATABASE_URL, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    )
    bucket = f"jiaoyun-web-{tag}"
    prefix = f"jiaoyun-web-{tag}"
    cleanup.append(lambda: _remove_bucket(bucket))
    cleanup.append(lambda: _remove_indices(prefix))
    return {
        "JIAOYUN_DATABASE_URL": make_url(backends.DATABASE_URL)
        .set(database=database)
        .render_as_string(hide_password=False),
        "JIAOYUN_S3_ENDPOINT": backends.S3_ENDPOINT,
        "JIAOYUN_S3_ACCESS_KEY": backends.S3_ACCESS_KEY,
        "JIAOYUN_S3_SECRET_KEY": backends.S3_SECRET_KEY,
        "JIAOYUN_S3_BUCKET": bucket,
        "JIAOYUN_ELASTICSEARCH_URL": backends.ELASTICSEARCH_URL,
        "JIAOYUN_SEARCH_INDEX_PREFIX": prefix,
        # One process is the whole site here, as in embedded mode.
        "JIAOYUN_EMBEDDED_WORKER": "true",
    }


def _remove_bucket(bucket: str) -> None:
    client = make_minio_client(
        backends.S3_ENDPOINT, backends.S3_ACCESS_KEY, backends.S3_SECRET_KEY, "us-east-1"
    )
    if not client.bucket_exists(bucket):
        return
    for item in client.list_objects(bucket, recursive=True):
        client.remove_object(bucket, str(item.object_name))
    for upload in client._list_multipart_uploads(bucket).uploads:
        client._abort_multipart_upload(bucket, upload.object_name, str(upload.upload_id))
    client.remove_bucket(bucket)


def _remove_indices(prefix: str) -> None:
    with httpx.Client(base_url=backends.ELASTICSEARCH_URL, timeout=30) as client:
        found = client.get(f"/{prefix}-*", params={"expand_wildcards": "all"})
        found.raise_for_status()
        for name in found.json():
            if name.startswith(f"{prefix}-"):
                client.delete(f"/{name}").raise_for_status()


def start_site(kind: str, workdir: Path) -> Site:
    tag = uuid.uuid4().hex[:10]
    cleanup: list[Any] = []
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("JIAOYUN_") or key.startswith("JIAOYUN_TEST_")
    }
    port = free_port()
    env.update(
        {
            "JIAOYUN_DATA_DIR": str(workdir / "data"),
            "JIAOYUN_SECRET_KEY": SECRET_KEY,
            "JIAOYUN_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "JIAOYUN_WORKER_POLL_INTERVAL_S": "0.2",
        }
    )
    if kind == "servers":
        env.update(_server_stack(tag, cleanup))
    log_path = workdir / f"server-{kind}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(JIAOYUN), "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    site = Site(kind, process, port, log_path, cleanup=cleanup)
    try:
        _wait_ready(site)
        _sign_up_district(site, env)
    except BaseException:
        site.stop()
        raise
    return site


def _sign_up_district(site: Site, env: dict[str, str]) -> None:
    """An administrator from the command line, then a school, two teachers and a student via the API."""
    admin = Person("admin", "区管理员", "district_admin")
    subprocess.run(
        [
            str(JIAOYUN),
            "admin",
            "create",
            "--username",
            admin.username,
            "--password",
            admin.password,
            "--display-name",
            admin.display_name,
        ],
        env=env,
        check=True,
        capture_output=True,
        cwd=site.log_path.parent,
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
