"""A small district on a live `jiaoyun serve` (tests.live): an admin made by the CLI, a school, two
teachers, signed in, and the few calls the stalling-file tests make over HTTP. No pytest in here: the
fault tests of scripts/prove use it too."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.factories import resource_metadata, upload_form
from tests.live import run_cli

PASSWORD = "stalling-test-password-1"


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        response.request.method,
        response.request.url,
        response.text[:500],
    )
    return response.json() if response.content else None


@dataclass
class LiveDistrict:
    client: httpx.Client
    teacher: dict[str, str]
    colleague: dict[str, str]

    def upload(self, filename: str, content: bytes, **metadata: Any) -> dict[str, Any]:
        files = upload_form(resource_metadata(**metadata), filename, content)
        body: dict[str, Any] = expect(
            self.client.post("/api/v1/resources", files=files, headers=self.teacher), 201
        )
        return body

    def change(self, resource_id: str, **changes: Any) -> None:
        expect(self.client.patch(f"/api/v1/resources/{resource_id}", json=changes, headers=self.teacher), 200)

    def main_file(self, resource_id: str) -> dict[str, Any]:
        body = expect(self.client.get(f"/api/v1/resources/{resource_id}", headers=self.teacher), 200)
        files: list[dict[str, Any]] = body["versions"][0]["files"]
        return next(file for file in files if file["purpose"] == "primary")

    def status(self, resource_id: str) -> str:
        status: str = self.main_file(resource_id)["processing_status"]
        return status

    def found_by_colleague(self, q: str, limit: int = 100) -> set[str]:
        params: dict[str, Any] = {"q": q, "limit": limit}
        body = expect(self.client.get("/api/v1/search", params=params, headers=self.colleague), 200)
        return {hit["resource_id"] for hit in body["hits"]}


def seed(base_url: str, env: dict[str, str], workdir: Path, tag: str) -> LiveDistrict:
    admin = f"admin-{tag}"
    run_cli(env, workdir, "admin", "create", "--username", admin, "--password", PASSWORD)
    client = httpx.Client(base_url=base_url, timeout=60)

    def sign_in(username: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {expect(response, 200)['access_token']}"}

    admin_auth = sign_in(admin)
    school = expect(client.post("/api/v1/schools", json={"name": f"卡顿学校{tag}"}, headers=admin_auth), 201)
    for username in (f"teacher-{tag}", f"colleague-{tag}"):
        user = {"username": username, "display_name": "教师", "password": PASSWORD, "role": "teacher"}
        expect(client.post("/api/v1/users", json=user | {"school_id": school["id"]}, headers=admin_auth), 201)
    return LiveDistrict(client, sign_in(f"teacher-{tag}"), sign_in(f"colleague-{tag}"))


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> float:
    """Seconds until ``condition()`` held; AssertionError naming ``what`` after timeout_s."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(interval_s)
    return time.monotonic() - started
