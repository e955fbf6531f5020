"""Idle memory of the API process, measured as bench/upload.py measures it (issue 19: ≤ 150 MiB).

    .venv/bin/python bench/idle.py [--runs 3] [--mode s3|embedded] [--settle 2] [--worker]

Each run starts `jiaoyun serve` as bench/upload.py does (a district admin made by the CLI, on a
database, bucket and index prefix of its own in s3 mode; no job worker inside the API), makes the
same set-up requests (the admin signs in, makes a school and a teacher, the teacher signs in), waits
--settle seconds and reads the serving process's VmRSS: the figure upload.py reports as the server's
RSS baseline. It also reads it when the server is first ready and after the admin's sign-in, the
process's threads, and what `create_app()` alone holds in a fresh process. Figures only.

`--mode embedded` keeps embedded mode's default of a job worker inside the API (upload.py turns it
off). `--worker` also starts `jiaoyun worker` beside the server and reads its VmRSS at the end.

The `jiaoyun` that runs is the one beside this interpreter: to measure another checkout, run this
file with that checkout's venv (e.g. `/work/main/.venv/bin/python bench/idle.py`). Runs alternate
nothing by themselves; interleave invocations to compare two checkouts in the same hour.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.upload import (  # noqa: E402
    PASSWORD,
    SECRET_KEY,
    create_teacher,
    progress,
    remove_tenant,
    sign_in,
    testinfra_servers,
)
from tests.live import ApiProcess, JiaoyunProcess, Tenant, run_cli, start_api, start_worker, status_kib  # noqa: E402

# A fresh interpreter, outside any checkout (so the installed `services` is the one measured).
CREATE_APP_PROBE = """
from services.app import create_app
create_app()
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]))
"""


def mib(kib: int) -> float:
    return kib / 1024


def idle_run(mode: str, settle_s: float, with_worker: bool) -> dict[str, float]:
    tag = uuid.uuid4().hex[:10]
    workdir = Path(tempfile.mkdtemp(prefix=f"jiaoyun-bench-idle-{mode}-"))
    tenant = Tenant(testinfra_servers(), tag, purpose="bench") if mode == "s3" else None
    api: ApiProcess | None = None
    worker: JiaoyunProcess | None = None
    try:
        # bench/upload.py's settings, but for the job worker in embedded mode (its default there).
        settings = {"JIAOYUN_DATA_DIR": str(workdir / "data"), "JIAOYUN_SECRET_KEY": SECRET_KEY}
        if tenant is not None:
            settings |= tenant.env() | {"JIAOYUN_EMBEDDED_WORKER": "false"}
            asyncio.run(tenant.create_database())
        admin = f"bench-admin-{tag}"
        run_cli(settings, workdir, "admin", "create", "--username", admin, "--password", PASSWORD)
        api = start_api(settings, workdir, name="server")
        pid = api.listening_pid()
        if with_worker:
            worker = start_worker(settings, workdir)
        figures = {"ready": mib(status_kib(pid, "VmRSS"))}
        with httpx.Client(base_url=api.base_url, timeout=60) as client:
            admin_token = sign_in(client, admin)
            figures["signed in"] = mib(status_kib(pid, "VmRSS"))
            create_teacher(client, admin_token, tag)
        time.sleep(settle_s)
        figures["idle"] = mib(status_kib(pid, "VmRSS"))
        figures["threads"] = status_kib(pid, "Threads")
        if worker is not None:
            figures["worker"] = mib(status_kib(worker.pid, "VmRSS"))
        return figures
    finally:
        if worker is not None:
            worker.stop()
        if api is not None:
            api.stop()
        if tenant is not None:
            remove_tenant(tenant)
        shutil.rmtree(workdir, ignore_errors=True)


def create_app_mib() -> float:
    """VmRSS after `create_app()` in a fresh process, in MiB."""
    with tempfile.TemporaryDirectory() as outside:
        completed = subprocess.run(
            [sys.executable, "-c", CREATE_APP_PROBE],
            cwd=outside,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
    return mib(int(completed.stdout.split()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mode", choices=["s3", "embedded"], default="s3")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds idle before reading (default 2)")
    parser.add_argument("--worker", action="store_true", help="also run `jiaoyun worker` and read its RSS")
    args = parser.parse_args()

    rows = []
    for run in range(1, args.runs + 1):
        figures = idle_run(args.mode, args.settle, args.worker)
        figures["create_app"] = create_app_mib()
        rows.append(figures)
        measured = ", ".join(f"{name} {value:.1f}" for name, value in figures.items())
        progress(f"run {run}/{args.runs}: {measured}")

    print(f"\n`jiaoyun serve` ({Path(sys.executable).parent / 'jiaoyun'}), {args.mode} mode, VmRSS in MiB")
    names = list(rows[0])
    print(f"{'':<18}" + "".join(f"{name:>17}" for name in names))
    for run, figures in enumerate(rows, 1):
        print(f"{'run ' + str(run):<18}" + "".join(f"{figures[name]:>17.1f}" for name in names))
    print(f"{'median':<18}" + "".join(f"{statistics.median(f[name] for f in rows):>17.1f}" for name in names))


if __name__ == "__main__":
    main()
