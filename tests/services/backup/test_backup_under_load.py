"""`jiaoyun backup` taken from a running embedded `jiaoyun serve` while a teacher keeps uploading and
editing, restored with `jiaoyun restore` into a new data directory and served again: every restored
resource is whole (its file there with the sha256 it was uploaded with), nothing after the snapshot
is half there, search answers, and sessions survive (the key came along)."""

from __future__ import annotations

import hashlib
import json
import tarfile
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import run_cli, start_api
from tests.samples import pdf_bytes

PASSWORD = "backup-admin-password"


def _metadata(title: str) -> str:
    return json.dumps(
        {
            "title": title,
            "resource_type": "lesson_plan",
            "grade": 3,
            "subject": "数学",
            "visibility": "school",
            "status": "published",
        },
        ensure_ascii=False,
    )


def _upload(http: httpx.Client, headers: dict[str, str], title: str) -> dict[str, Any]:
    content = pdf_bytes([f"{title} 教学设计"])
    answer = http.post(
        "/api/v1/resources",
        headers=headers,
        files={
            "metadata": (None, _metadata(title), "application/json"),
            "file": ("plan.pdf", content, "application/pdf"),
        },
    )
    answer.raise_for_status()
    resource: dict[str, Any] = answer.json()
    resource["uploaded_sha256"] = hashlib.sha256(content).hexdigest()
    return resource


def test_a_backup_taken_under_write_load_restores_whole_and_searchable(tmp_path: Path) -> None:
    source_env = {"JIAOYUN_DATA_DIR": str(tmp_path / "data"), "JIAOYUN_WORKER_POLL_INTERVAL_S": "0.2"}
    api = start_api(source_env, tmp_path, name="source")
    stop = threading.Event()
    created: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    try:
        run_cli(source_env, tmp_path, "admin", "create", "--username", "admin", "--password", PASSWORD)
        with httpx.Client(base_url=api.base_url, timeout=60) as http:
            token = http.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()
            admin = {"Authorization": f"Bearer {token['access_token']}"}
            school = http.post(
                "/api/v1/schools", headers=admin, json={"name": "备份小学", "code": "BK"}
            ).json()
            http.post(
                "/api/v1/users",
                headers=admin,
                json={
                    "username": "teacher",
                    "display_name": "孙老师",
                    "password": PASSWORD,
                    "role": "teacher",
                    "school_id": school["id"],
                },
            ).raise_for_status()
            login = http.post("/api/v1/auth/token", data={"username": "teacher", "password": PASSWORD})
            teacher = {"Authorization": f"Bearer {login.json()['access_token']}"}
            created += [_upload(http, teacher, f"分数的意义 第{n}课时") for n in range(3)]

            def write_load() -> None:
                try:
                    with httpx.Client(base_url=api.base_url, timeout=60) as writer:
                        number = 100
                        while not stop.is_set():
                            resource = _upload(writer, teacher, f"小数加减法 第{number}课时")
                            created.append(resource)
                            writer.patch(
                                f"/api/v1/resources/{resource['id']}",
                                headers=teacher,
                                json={"title": f"小数加减法（修订）第{number}课时"},
                            ).raise_for_status()
                            number += 1
                except BaseException as exc:  # reported by the test below
                    errors.append(exc)

            writer = threading.Thread(target=write_load)
            writer.start()
            try:
                archive = tmp_path / "backups" / "jiaoyun-backup.tar"
                output = run_cli(source_env, tmp_path, "backup", str(archive))
                assert "backed up" in output
                before_stop = len(created)
            finally:
                stop.set()
                writer.join(timeout=120)
            assert not errors, errors
            assert before_stop > 3, "the backup ran while writes went on"
    finally:
        api.stop()

    assert (archive.with_name(f"{archive.name}.sha256")).read_text().split()[1] == archive.name
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[-1] == "manifest.json" and "jiaoyun.db" in names and "secret_key" in names

    restored_env = {"JIAOYUN_DATA_DIR": str(tmp_path / "restored")}
    report = run_cli(restored_env, tmp_path, "restore", str(archive))
    assert "archive checksum ok" in report and "counts as backed up" in report
    api = start_api(restored_env, tmp_path, name="restored")
    try:
        with httpx.Client(base_url=api.base_url, timeout=60) as http:
            # The session opened before the backup still works: the key was restored with the data.
            listing = http.get("/api/v1/resources", headers=teacher, params={"limit": 100})
            assert listing.status_code == 200, listing.text
            restored = {item["id"]: item for item in listing.json()["items"]}
            by_id = {resource["id"]: resource for resource in created}
            # Everything uploaded before the backup began is there; nothing restored is unknown.
            assert {resource["id"] for resource in created[:3]} <= restored.keys()
            assert restored.keys() <= by_id.keys()
            for resource_id in restored:
                detail = http.get(f"/api/v1/resources/{resource_id}", headers=teacher).json()
                files = [file for version in detail["versions"] for file in version["files"]]
                assert len(files) == 1, "a resource comes back whole, with its file"
                content = http.get(
                    f"/api/v1/resources/{resource_id}/files/{files[0]['id']}/content", headers=teacher
                )
                assert content.status_code == 200
                assert hashlib.sha256(content.content).hexdigest() == by_id[resource_id]["uploaded_sha256"]
            hits = http.get("/api/v1/search", headers=teacher, params={"q": "分数的意义"}).json()
            assert hits["total"] >= 3
    finally:
        api.stop()


def test_restore_refuses_a_damaged_archive_and_a_data_dir_in_use(tmp_path: Path) -> None:
    env = {"JIAOYUN_DATA_DIR": str(tmp_path / "data")}
    run_cli(env, tmp_path, "migrate")
    archive = tmp_path / "empty.tar"
    run_cli(env, tmp_path, "backup", str(archive))
    with pytest.raises(RuntimeError, match="not empty"):
        run_cli(env, tmp_path, "restore", str(archive))
    with archive.open("r+b") as file:
        file.seek(600)
        file.write(b"\x00damaged\x00")
    with pytest.raises(RuntimeError, match="does not match its checksum"):
        run_cli({"JIAOYUN_DATA_DIR": str(tmp_path / "new")}, tmp_path, "restore", str(archive))
    # Nothing of the damaged archive stayed (the key is what the settings make in any data dir).
    assert {entry.name for entry in (tmp_path / "new").iterdir()} <= {"secret_key"}
