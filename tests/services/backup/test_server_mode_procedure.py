"""The README's server-mode procedure, performed on the test servers: pg_dump, the bucket's objects
mirrored to a backup bucket (server-side copies, as `mc mirror` makes them), everything destroyed,
then pg_restore, the objects mirrored back and `jiaoyun reindex`; the same service answers again."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from minio import Minio
from minio.commonconfig import CopySource
from sqlalchemy import make_url

from tests import backends
from tests.live import Tenant, run_cli, run_in_new_loop, start_api
from tests.samples import pdf_bytes

PASSWORD = "server-backup-password"
SECRET_KEY = "server-backup-secret-key"


def _libpq_url(database_url: str) -> str:
    """pg_dump's form of the SQLAlchemy URL (no +asyncpg)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _mirror(client: Minio, source: str, target: str) -> int:
    if not client.bucket_exists(target):
        client.make_bucket(target)
    count = 0
    for item in client.list_objects(source, recursive=True):
        name = str(item.object_name)
        client.copy_object(target, name, CopySource(source, name))
        count += 1
    return count


def _sign_in(http: httpx.Client, username: str) -> dict[str, str]:
    answer = http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _state(http: httpx.Client, teacher: dict[str, str]) -> dict[str, Any]:
    """What a restore must bring back: resources, their files' bytes, and search answers."""
    items = http.get("/api/v1/resources", headers=teacher, params={"limit": 100}).json()["items"]
    contents = {}
    for item in items:
        detail = http.get(f"/api/v1/resources/{item['id']}", headers=teacher).json()
        for version in detail["versions"]:
            for file in version["files"]:
                body = http.get(f"/api/v1/resources/{item['id']}/files/{file['id']}/content", headers=teacher)
                contents[file["id"]] = hashlib.sha256(body.content).hexdigest()
    hits = http.get("/api/v1/search", headers=teacher, params={"q": "圆的面积"}).json()
    return {
        "resources": sorted(item["id"] for item in items),
        "contents": contents,
        "found": sorted(hit["resource_id"] for hit in hits["hits"]),
    }


def _wait_searchable(http: httpx.Client, teacher: dict[str, str], count: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if http.get("/api/v1/search", headers=teacher, params={"q": "圆的面积"}).json()["total"] >= count:
            return
        time.sleep(0.5)
    raise AssertionError("uploads never became searchable")


def test_back_up_destroy_restore_and_verify_on_the_servers(tmp_path: Path) -> None:
    for server in ("postgresql", "minio", "elasticsearch"):
        backends.require(server)
    tenant = Tenant(backends.shared_servers(), purpose="backup")
    backup_bucket = f"{tenant.bucket}-mirror"
    minio = tenant.minio()
    run_in_new_loop(tenant.create_database())
    env = tenant.env() | {
        "JIAOYUN_DATA_DIR": str(tmp_path / "data"),
        "JIAOYUN_SECRET_KEY": SECRET_KEY,
        "JIAOYUN_EMBEDDED_WORKER": "true",
        "JIAOYUN_WORKER_POLL_INTERVAL_S": "0.2",
    }
    dump = tmp_path / "jiaoyun.dump"
    try:
        api = start_api(env, tmp_path, name="before")
        try:
            run_cli(env, tmp_path, "admin", "create", "--username", "admin", "--password", PASSWORD)
            with httpx.Client(base_url=api.base_url, timeout=60) as http:
                admin = _sign_in(http, "admin")
                school = http.post(
                    "/api/v1/schools", headers=admin, json={"name": "服务器小学", "code": "SV"}
                )
                http.post(
                    "/api/v1/users",
                    headers=admin,
                    json={
                        "username": "teacher",
                        "display_name": "钱老师",
                        "password": PASSWORD,
                        "role": "teacher",
                        "school_id": school.json()["id"],
                    },
                ).raise_for_status()
                teacher = _sign_in(http, "teacher")
                for number in range(3):
                    metadata = {
                        "title": f"圆的面积 第{number}课时",
                        "resource_type": "lesson_plan",
                        "grade": 6,
                        "subject": "数学",
                        "visibility": "school",
                        "status": "published",
                    }
                    http.post(
                        "/api/v1/resources",
                        headers=teacher,
                        files={
                            "metadata": (None, json.dumps(metadata, ensure_ascii=False), "application/json"),
                            "file": ("plan.pdf", pdf_bytes([f"圆的面积 {number}"]), "application/pdf"),
                        },
                    ).raise_for_status()
                _wait_searchable(http, teacher, 3)
                before = _state(http, teacher)
        finally:
            api.stop()

        # Back up: the database with pg_dump, the objects mirrored; the index is derived data.
        subprocess.run(
            ["pg_dump", "--format=custom", f"--file={dump}", _libpq_url(tenant.database_url)], check=True
        )
        mirrored = _mirror(minio, tenant.bucket, backup_bucket)
        assert mirrored >= 3

        # Destroy everything.
        run_in_new_loop(tenant.drop_database())
        tenant.remove_bucket()
        tenant.remove_indices()

        # Restore: database, objects, then the search index rebuilt from the database.
        run_in_new_loop(tenant.create_database())
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={_libpq_url(tenant.database_url)}", str(dump)], check=True
        )
        assert _mirror(minio, backup_bucket, tenant.bucket) == mirrored
        assert "reindexed" in run_cli(env, tmp_path, "reindex")

        api = start_api(env, tmp_path, name="after")
        try:
            with httpx.Client(base_url=api.base_url, timeout=60) as http:
                # The token from before the disaster still signs in (same key, same rows).
                after = _state(http, teacher)
        finally:
            api.stop()
        assert after == before
        assert len(before["found"]) == 3
    finally:
        run_in_new_loop(tenant.drop())
        if minio.bucket_exists(backup_bucket):
            for item in minio.list_objects(backup_bucket, recursive=True):
                minio.remove_object(backup_bucket, str(item.object_name))
            minio.remove_bucket(backup_bucket)
