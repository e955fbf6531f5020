"""The search API's own work per request, in-process: database round trips and a cProfile.

    .venv/bin/python bench/search_api_profile.py [--resources 1000] [--queries 300] [--top 25]

Builds the app the way `jiaoyun serve` does (server mode: PostgreSQL and Elasticsearch of
scripts/test-servers.sh, in a database and index prefix of its own, removed at the end), indexes
generated resources (bench/search.py's generator), signs in a student and sends the bench's query mix
to GET /api/v1/search through an in-process ASGI transport (no HTTP server, so no uvicorn parsing).
Prints, per search: the round trips to PostgreSQL (the statements SQLAlchemy executes, and what
asyncpg sends outside them: BEGIN, COMMIT and the pool's ping), CPU milliseconds of this process
without the profiler (client and app, and the app alone), then with it; then a CPU-time profile:
own time by package, and the top lines by own and by cumulative time.
Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from services.app import create_app  # noqa: E402
from services.context import build_context, prepare_backends  # noqa: E402
from services.identity.tokens import issue_access_token  # noqa: E402
from services.settings import Settings  # noqa: E402
from storage.models.identity import Role, School, User  # noqa: E402
from tests.live import Tenant  # noqa: E402


def bench_search_module() -> Any:
    """bench/search.py under another name: as `search` it would shadow the search package."""
    spec = importlib.util.spec_from_file_location("bench_search", ROOT / "bench" / "search.py")
    assert spec is not None and spec.loader is not None
    sys.path.insert(1, str(ROOT / "bench"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_search"] = module
    spec.loader.exec_module(module)
    return module


async def run(args: argparse.Namespace) -> None:
    bench = bench_search_module()
    tenant = Tenant(bench.testinfra_servers(), purpose="bench")
    await tenant.create_database()
    workdir = Path(tempfile.mkdtemp(prefix="jiaoyun-search-profile-"))
    env = tenant.env()
    settings = Settings(
        data_dir=workdir,
        secret_key=SecretStr("profile-secret-key-profile-secret-key"),
        database_url=env["JIAOYUN_DATABASE_URL"],
        elasticsearch_url=env["JIAOYUN_ELASTICSEARCH_URL"],
        search_index_prefix=env["JIAOYUN_SEARCH_INDEX_PREFIX"],
        embedded_worker=False,
    )
    context = build_context(settings)
    try:
        await prepare_backends(context)
        async with context.sessionmaker() as session:
            schools = [School(name=f"学校{number}", code=f"p-{number}") for number in range(50)]
            session.add_all(schools)
            await session.flush()
            student = User(
                username="profile-student",
                display_name="学生",
                password_hash="!",
                role=Role.student,
                school_id=schools[3].id,
            )
            session.add(student)
            await session.commit()
        school_ids = [str(school.id) for school in schools]
        documents = bench.generate_documents(args.resources, school_ids, 7)
        await context.search_index.rebuild(bench.batches(documents))
        token, _ = issue_access_token(student, settings)
        specs = bench.make_queries(args.queries, 7, school_ids[3], forgiving=args.queries // 8)

        messages: list[str] = []

        def log_message(record: Any) -> None:
            messages.append(record.query.split(None, 1)[0].upper() if record.query.strip() else "(empty)")

        @event.listens_for(context.engine.sync_engine, "before_cursor_execute")
        def _statement(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
            messages.append(statement.split(None, 1)[0].upper())

        @event.listens_for(context.engine.sync_engine, "connect")
        def _log(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.driver_connection.add_query_logger(log_message)

        await context.engine.dispose()  # connections made from here on log their messages
        app = create_app(context=context)
        app_cpu: list[float] = []

        async def timed_app(scope: Any, receive: Any, send: Any) -> None:
            # The app's own CPU, without the in-process client's: requests go one at a time, so the
            # process's CPU time while the app handles one is that request's (and the event loop's).
            started = time.process_time()
            await app(scope, receive, send)
            app_cpu.append((time.process_time() - started) * 1000)

        transport = httpx.ASGITransport(app=timed_app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as http:
            for spec in specs[:20]:  # warm-up
                (await http.get("/api/v1/search", params=spec.params())).raise_for_status()
            # Unprofiled first: the profiler's own cost is per function call, so it inflates code
            # of many small calls (routing, parameter parsing) far more than C code.
            messages.clear()
            cpu_plain: list[float] = []
            for _ in range(args.plain_rounds):
                for spec in specs:
                    started = time.process_time()
                    response = await http.get("/api/v1/search", params=spec.params())
                    cpu_plain.append((time.process_time() - started) * 1000)
                    response.raise_for_status()
            app_plain = list(app_cpu)
            sent = list(messages)
            messages.clear()
            # CPU time, not wall time: on a loaded machine a send() that wakes PostgreSQL or
            # Elasticsearch often hands them the CPU, and a wall-clock profile would count that wait.
            profile = cProfile.Profile(time.process_time)
            cpu: list[float] = []
            for spec in specs if args.cprofile else []:
                started = time.process_time()
                profile.enable()
                response = await http.get("/api/v1/search", params=spec.params())
                profile.disable()
                cpu.append((time.process_time() - started) * 1000)
                response.raise_for_status()
        searches = len(cpu_plain)
        if args.cprofile:
            sent, searches = messages, len(specs)
        kinds = Counter(sent)
        print(f"{args.resources} resources = {len(documents)} documents, {len(specs)} searches as a student")
        print(
            f"PostgreSQL round trips per search: {len(sent) / max(1, searches):.2f} "
            f"({', '.join(f'{kind} {count / max(1, searches):.2f}' for kind, count in kinds.most_common())})"
        )
        if cpu_plain:
            app_plain = app_plain[-len(cpu_plain) :]
            print(
                f"CPU per search without the profiler ({args.plain_rounds} rounds): "
                f"client + app p50 {statistics.median(cpu_plain):.2f} ms, "
                f"mean {statistics.fmean(cpu_plain):.2f} ms; "
                f"the app alone p50 {statistics.median(app_plain):.2f} ms, "
                f"mean {statistics.fmean(app_plain):.2f} ms"
            )
        if not cpu:
            return
        print(
            f"CPU of this process per search, profiled (ASGI in-process, client included): "
            f"p50 {statistics.median(cpu):.1f} ms, mean {statistics.fmean(cpu):.1f} ms"
        )
        if args.dump:
            profile.dump_stats(args.dump)
        print("own CPU time by package (share of the profiled total):")
        stats = pstats.Stats(profile)
        by_area: Counter[str] = Counter()
        for (path, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
            by_area[area_of(path)] += own
        total = sum(by_area.values())
        for area, seconds in by_area.most_common(16):
            print(f"  {100 * seconds / total:5.1f}%  {1000 * seconds / len(specs):6.2f} ms/search  {area}")
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(order).print_stats(args.top)
            print(out.getvalue())
    finally:
        await context.close()
        tenant.remove_indices()
        await tenant.drop_database()


def area_of(path: str) -> str:
    """site-packages/<package>, or the checkout's own module, or the interpreter's."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if path.startswith(str(ROOT)):
        return path[len(str(ROOT)) + 1 :].removesuffix(".py")
    if path.startswith("~") or path.startswith("{"):
        return "builtins (C)"
    return "stdlib " + Path(path).stem


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--plain-rounds",
        type=int,
        default=2,
        help="rounds of the query mix sent without the profiler first, for the plain CPU figures",
    )
    parser.add_argument(
        "--no-cprofile",
        dest="cprofile",
        action="store_false",
        help="only the plain rounds (e.g. under a sampling profiler: py-spy record -f raw -- ...)",
    )
    parser.add_argument("--dump", help="also write the profile here (pstats format, e.g. for snakeviz)")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
