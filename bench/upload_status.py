"""What `GET /api/v1/uploads/{id}` costs for a big resumable upload on the local store.

    .venv/bin/python bench/upload_status.py [--size-mb 512] [--runs 5]

In process, on embedded defaults in a temp dir: starts a resumable upload of --size-mb MiB in 8 MiB
parts, sends every part through the API, then times the status request (answered from the parts'
records), the local store's part listing (what presigned-URL uploads use: checksums kept beside the
parts) and, for comparison, what the status request did before: reading and hashing every stored part.
Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.app import create_app  # noqa: E402
from storage.migrate import upgrade_to_head  # noqa: E402
from storage.models.identity import Role  # noqa: E402
from storage.models.resources import UploadSession  # noqa: E402
from tests import samples, stacks  # noqa: E402
from tests.factories import make_school, make_user, token_for  # noqa: E402

MIB = 1024 * 1024
PART = 8 * MIB


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(256 * 1024):
            digest.update(block)
    return digest.hexdigest()


async def timed(runs: int, action: Callable[[], Awaitable[object]]) -> float:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        await action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


async def main(size_mb: int, runs: int) -> None:
    size = size_mb * MIB
    with tempfile.TemporaryDirectory(prefix="jiaoyun-bench-status-") as directory:
        workdir = Path(directory)
        template = workdir / "template.db"
        upgrade_to_head(f"sqlite+aiosqlite:///{template}")
        async with (
            stacks.sqlite_database(template, workdir) as database,
            stacks.local_blob_store(workdir / "blobs") as store,
            stacks.embedded_search_index(workdir / "search.db") as index,
        ):
            context = stacks.make_context(stacks.settings_for_tests(workdir), database, store, index)
            transport = httpx.ASGITransport(app=create_app(context=context))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", timeout=300
            ) as http:
                async with context.sessionmaker() as session, session.begin():
                    teacher = await make_user(session, Role.teacher, await make_school(session))
                auth = await token_for(http, teacher)
                started = await http.post(
                    "/api/v1/uploads",
                    json={"filename": "bench.mp4", "size": size, "part_size": PART},
                    headers=auth,
                )
                upload = started.json()
                head = samples.mp4_bytes(duration_s=1.0)
                filler = bytes(PART)
                for number in range(1, upload["part_count"] + 1):
                    body = (head + filler[len(head) :]) if number == 1 else filler
                    length = min(PART, size - (number - 1) * PART)
                    sent = await http.put(
                        f"/api/v1/uploads/{upload['id']}/parts/{number}", content=body[:length], headers=auth
                    )
                    assert sent.status_code == 200, sent.text
                status_url = f"/api/v1/uploads/{upload['id']}"
                status = await timed(runs, lambda: http.get(status_url, headers=auth))
                async with context.sessionmaker() as session:
                    row = await session.get(UploadSession, uuid.UUID(upload["id"]))
                assert row is not None
                listing = await timed(runs, lambda: store.list_parts(row.blob_key, row.store_upload_id))
                parts_dir = workdir / "blobs" / "multipart" / row.store_upload_id
                rehash = await timed(
                    1,
                    lambda: asyncio.to_thread(lambda: [md5_of(p) for p in sorted(parts_dir.glob("*.part"))]),
                )
    print(f"upload of {size_mb} MiB in {upload['part_count']} parts of {PART // MIB} MiB (local store)")
    print(f"  GET /uploads/{{id}} now (from the parts' records): {status * 1000:8.1f} ms (median of {runs})")
    print(f"  the local store's part listing (checksums kept beside the parts): {listing * 1000:8.1f} ms")
    print(f"  reading and hashing every part (GET before):      {rehash * 1000:8.1f} ms")
    print(f"  ratio before / now: {rehash / status:.0f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.size_mb, arguments.runs))
