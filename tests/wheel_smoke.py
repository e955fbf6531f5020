"""Wheel smoke test, run by scripts/test: what an operator's `pip install` gets must start and serve.

Builds the wheel from what the Dockerfile copies, installs it into a clean venv outside the checkout,
starts `jiaoyun serve` from that venv on embedded defaults (a temporary data dir, a free port, no
JIAOYUN_ variables, a working directory outside the checkout), fetches a page, a static file and API
routes, and stops it. Exits non-zero on any failure. `python -m tests.wheel_smoke [--keep]`.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.wheel import ROOT, build_wheel

START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_environment(data_dir: Path) -> dict[str, str]:
    """The caller's environment without anything that could point back at the checkout or at servers."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("JIAOYUN_", "PYTHON", "VIRTUAL_ENV"))
    }
    environment["JIAOYUN_DATA_DIR"] = str(data_dir)
    return environment


def install(wheel: Path, venv: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # Dependencies come from pip's cache after the first run; no byte-compiling keeps it quick.
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        cwd=venv.parent,
    )


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"jiaoyun serve exited with {server.returncode} before answering")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"jiaoyun serve did not answer /healthz within {START_TIMEOUT_S:.0f} s")


def check(response: httpx.Response, content_type: str) -> httpx.Response:
    if response.status_code != 200 or not response.headers.get("content-type", "").startswith(content_type):
        raise SystemExit(
            f"GET {response.request.url} answered {response.status_code} "
            f"{response.headers.get('content-type')}: {response.text[:300]}"
        )
    print(f"   ok  GET {response.request.url.raw_path.decode()} → 200 {content_type}", file=sys.stderr)
    return response


def exercise(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        page = check(http.get("/"), "text/html").text
        if "教云" not in page:
            raise SystemExit("the home page does not look like Jiaoyun's")
        stylesheet = re.search(r'href="(/static/[^"]+\.css[^"]*)"', page)
        if stylesheet is None:
            raise SystemExit("the home page links no stylesheet")
        check(http.get(stylesheet.group(1)), "text/css")
        check(http.get("/static/js/app.js"), "text/javascript")
        check(http.get("/readyz"), "application/json")
        results = check(http.get("/api/v1/search", params={"q": "课例"}), "application/json").json()
        if results.get("total") != 0:
            raise SystemExit(f"an empty district found something: {results}")
        check(http.get("/openapi.json"), "application/json")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    keep = "--keep" in sys.argv[1:]
    workdir = Path(tempfile.mkdtemp(prefix="jiaoyun-wheel-smoke-"))
    if workdir.resolve().is_relative_to(ROOT):
        raise SystemExit(f"{workdir} is inside the checkout; set TMPDIR elsewhere")
    started = time.monotonic()
    wheel = build_wheel(workdir)
    print(f"   built {wheel.name} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    venv = workdir / "venv"
    install(wheel, venv)
    print(f"   installed into {venv} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    run_dir = workdir / "run"
    run_dir.mkdir()
    port = free_port()
    log_path = workdir / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(venv / "bin" / "jiaoyun"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=run_dir,
            env=clean_environment(workdir / "data"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base, server)
            exercise(base)
        except BaseException:
            stop(server)
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
            print(f"   wheel smoke test FAILED; its files are kept in {workdir}", file=sys.stderr)
            raise
        stop(server)
    print(f"   wheel smoke test passed ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    if not keep:
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


if __name__ == "__main__":
    main()
