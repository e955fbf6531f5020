"""A short run of the real `jiaoyun serve --workers 2` beside a `jiaoyun worker`, logging JSON: every
metric family an operator graphs is non-zero in the merged multi-process /metrics, every request has
one access line carrying its request id, worker lines carry the job and file, and no password, token
or key appears anywhere in the logs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.live import ApiProcess, free_ports, process_env, run_cli, start_worker
from tests.samples import pdf_bytes
from tests.services.observability.test_metrics import samples, total

SECRET_KEY = "observability-secret-key-never-logged"
ADMIN_PASSWORD = "admin-password-never-logged"
TEACHER_PASSWORD = "teacher-password-never-logged"


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(line, dict) for line in parsed)
    return parsed


def _wait(condition: Any, what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_short_run_fills_every_metric_family_and_logs_no_secrets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        "JIAOYUN_DATA_DIR": str(data),
        "JIAOYUN_SECRET_KEY": SECRET_KEY,
        "JIAOYUN_LOG_FORMAT": "json",
        "JIAOYUN_EMBEDDED_WORKER": "false",
        "JIAOYUN_LOGIN_MAX_FAILURES": "2",
        "JIAOYUN_WORKER_POLL_INTERVAL_S": "0.2",
    }
    port = free_ports(1)[0]
    api = ApiProcess(["serve", "--port", str(port), "--workers", "2"], env, tmp_path, "api", port=port)
    api.start()
    worker = None
    tokens: list[str] = []
    try:
        api.wait_ready()
        run_cli(env, tmp_path, "admin", "create", "--username", "admin", "--password", ADMIN_PASSWORD)
        with httpx.Client(base_url=api.base_url, timeout=30) as http:

            def sign_in(username: str, password: str) -> dict[str, str]:
                answer = http.post("/api/v1/auth/token", data={"username": username, "password": password})
                answer.raise_for_status()
                tokens.append(answer.json()["access_token"])
                return {"Authorization": f"Bearer {tokens[-1]}"}

            admin = sign_in("admin", ADMIN_PASSWORD)
            school = http.post("/api/v1/schools", headers=admin, json={"name": "一小", "code": "YX"}).json()
            created = http.post(
                "/api/v1/users",
                headers=admin,
                json={
                    "username": "wang",
                    "display_name": "王老师",
                    "password": TEACHER_PASSWORD,
                    "role": "teacher",
                    "school_id": school["id"],
                },
            )
            assert created.status_code == 201, created.text
            wrong = [
                http.post(
                    "/api/v1/auth/token", data={"username": "ghost", "password": "wrong-guess"}
                ).status_code
                for _ in range(3)
            ]
            assert wrong == [401, 401, 429]
            teacher = sign_in("wang", TEACHER_PASSWORD)
            metadata = json.dumps(
                {
                    "title": "树和喜鹊教案",
                    "resource_type": "lesson_plan",
                    "grade": 2,
                    "subject": "语文",
                    "visibility": "school",
                    "status": "published",
                },
                ensure_ascii=False,
            )
            uploaded = http.post(
                "/api/v1/resources",
                headers=teacher | {"X-Request-ID": "upload-request-42"},
                files={
                    "metadata": (None, metadata, "application/json"),
                    "file": ("plan.pdf", pdf_bytes(["树和喜鹊 教学设计"]), "application/pdf"),
                },
            )
            assert uploaded.status_code == 201, uploaded.text
            assert uploaded.headers["x-request-id"] == "upload-request-42"
            resource_id = uploaded.json()["id"]

            # No worker yet: the job and the index change wait, and the queue figures say so.
            waiting = samples(http.get("/metrics").text)
            assert total(waiting, "jiaoyun_job_queue_depth") >= 1
            assert total(waiting, "jiaoyun_search_outbox_backlog") >= 1

            worker_env = env | {"PROMETHEUS_MULTIPROC_DIR": str((data / "metrics").resolve())}
            worker = start_worker(worker_env, tmp_path)

            def processed() -> bool:
                resource = http.get(f"/api/v1/resources/{resource_id}", headers=teacher).json()
                return bool(resource["processing_status"] == "ready")

            _wait(processed, "the upload to be processed")

            def found() -> bool:
                hits = http.get("/api/v1/search", params={"q": "树和喜鹊"}, headers=teacher).json()["hits"]
                return bool(hits)

            _wait(found, "the upload to be searchable")
            scraped = http.get("/metrics")
            assert scraped.headers["x-request-id"]
        figures = samples(scraped.text)
        nonzero = {
            "jiaoyun_http_requests_total": {},
            "jiaoyun_http_request_duration_seconds_count": {"route": "/api/v1/resources"},
            "jiaoyun_search_duration_seconds_count": {"backend": "embedded"},
            "jiaoyun_upload_bytes_total": {},
            "jiaoyun_upload_seconds_total": {},
            "jiaoyun_jobs_total": {"outcome": "succeeded"},
            "jiaoyun_processing_duration_seconds_count": {"file_kind": "document"},
            "jiaoyun_index_changes_applied_total": {},
            "jiaoyun_index_drain_lag_seconds_count": {},
            "jiaoyun_login_failures_total": {},
            "jiaoyun_rate_limited_total": {},
            "jiaoyun_jobs_by_status": {"status": "succeeded"},
        }
        zero = [name for name, labels in nonzero.items() if total(figures, name, **labels) <= 0]
        assert not zero, f"no figures yet for {zero}"
        # Both API processes answered, and /metrics merged their files.
        assert len(list((data / "metrics").glob("*.db"))) >= 2
    finally:
        if worker is not None:
            worker.stop()
        api.stop()

    api_lines = _json_lines(api.log_text())
    worker_lines = _json_lines(worker.log_text() if worker else "")
    access = [line for line in api_lines if line["logger"] == "jiaoyun.access"]
    assert access and all(
        {"request_id", "method", "route", "status", "duration_ms"} <= line.keys() for line in access
    )
    upload_lines = [line for line in access if line["request_id"] == "upload-request-42"]
    assert len(upload_lines) == 1, "one access line per request"
    assert upload_lines[0]["route"] == "/api/v1/resources" and upload_lines[0]["status"] == 201
    assert upload_lines[0]["user_id"]
    processed_lines = [line for line in worker_lines if line["message"].startswith("file processed")]
    assert processed_lines and {"job_id", "file_id"} <= processed_lines[0].keys()
    everything = api.log_text() + (worker.log_text() if worker else "")
    for secret in (SECRET_KEY, ADMIN_PASSWORD, TEACHER_PASSWORD, "wrong-guess", *tokens):
        assert secret not in everything
    assert process_env(env)  # the processes saw only these settings
