"""The `jiaoyun` command on embedded defaults, run as a user would run it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from services.cli import app

runner = CliRunner()


def embedded_env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JIAOYUN_")}
    env["JIAOYUN_DATA_DIR"] = str(data_dir)
    return env


def test_migrate_and_admin_create(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    result = runner.invoke(app, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["admin", "create", "--username", "district", "--password", "s3cret-pass"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "created district admin district" in result.output

    again = runner.invoke(
        app, ["admin", "create", "--username", "district", "--password", "s3cret-pass"], env=env
    )
    assert again.exit_code == 1
    assert "taken" in again.output
    short = runner.invoke(app, ["admin", "create", "--username", "other", "--password", "short"], env=env)
    assert short.exit_code == 1
    assert "at least 8" in short.output


def test_reindex_rebuilds_the_embedded_index(tmp_path: Path) -> None:
    result = runner.invoke(app, ["reindex"], env=embedded_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "reindexed 0 documents" in result.output
    assert (tmp_path / "search.db").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_serve_on_embedded_defaults_is_healthy_and_ready(tmp_path: Path) -> None:
    port = free_port()
    jiaoyun = Path(sys.executable).parent / "jiaoyun"
    process = subprocess.Popen(
        [str(jiaoyun), "serve", "--port", str(port)],
        env=embedded_env(tmp_path / "data"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None, "server did not come up"
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert (tmp_path / "data" / "jiaoyun.db").exists()
        assert (tmp_path / "data" / "search.db").exists()
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended.
    assert process.returncode in (0, -15), output
    assert "Application shutdown complete" in output, output
    # On embedded defaults the job worker runs inside the API process.
    assert "worker" in output and "started" in output, output


def test_gc_on_a_fresh_installation_finds_nothing_to_fix(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gc"], env=embedded_env(tmp_path / "data"))

    assert result.exit_code == 0, result.output
    assert "orphan blobs removed: 0" in result.stdout
    assert "fixed nothing" in result.stdout
