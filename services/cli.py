"""The `jiaoyun` command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from services.context import AppContext, build_context, prepare_backends
from services.settings import Settings
from storage.migrate import upgrade_to_head, upgrade_to_head_in_child

T = TypeVar("T")

app = typer.Typer(help="教云 Jiaoyun — district education cloud", no_args_is_help=True)
admin_app = typer.Typer(help="Administration", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
users_app = typer.Typer(help="Users", no_args_is_help=True)
app.add_typer(users_app, name="users")
classes_app = typer.Typer(help="Classes (班级)", no_args_is_help=True)
app.add_typer(classes_app, name="classes")


def _settings() -> Settings:
    """Settings from the environment, or a message and exit status 2 saying what is wrong with them."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            typer.echo(f"error: {where + ': ' if where else ''}{error['msg']}", err=True)
        raise typer.Exit(2) from exc


def _with_context(work: Callable[[AppContext], Awaitable[T]], *, migrate: bool = True) -> T:
    from services import wiring

    assert wiring.REGISTERED_MODULES  # job handlers, periodic duties and search sources

    settings = _settings()

    async def run() -> T:
        context = build_context(settings)
        try:
            await prepare_backends(context, migrate=migrate)
            return await work(context)
        finally:
            await context.close()

    return asyncio.run(run())


def _configure_logging(settings: Settings | None = None) -> None:
    from services.observability.logs import configure_logging

    settings = settings or _settings()
    configure_logging(settings.log_format, settings.log_level)


def _share_metrics_between_processes(settings: Settings) -> None:
    """`serve --workers N`: every process writes its metrics where /metrics merges them from. Set
    before the processes start (they read it when they import prometheus_client); emptied first, so
    figures of an earlier run are not counted again."""
    import shutil

    from services.observability.metrics import MULTIPROCESS_DIR_VARIABLE

    directory = Path(os.environ.get(MULTIPROCESS_DIR_VARIABLE) or settings.data_dir / "metrics")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR_VARIABLE] = str(directory.resolve())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
) -> None:
    """Apply pending migrations and serve the API (with the job worker in-process on embedded defaults)."""
    import uvicorn

    settings = _settings()
    _configure_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if workers > 1:
        _share_metrics_between_processes(settings)
    # Once, here, before the processes start (they skip it); other servers migrating at the same time
    # wait for each other on a database lock.
    # In a child process: the API process need not keep Alembic in memory for the rest of its life.
    upgrade_to_head_in_child(settings.resolved_database_url)
    from services.http_protocol import BoundedHttpToolsProtocol

    uvicorn.run(
        "services.app:create_app_migrated",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        http=BoundedHttpToolsProtocol,
        # Logging is ours (configured in each process by the app factory): one access line per request.
        log_config=None,
        access_log=False,
    )


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.resolved_database_url)
    typer.echo("database is up to date")


@app.command()
def worker() -> None:
    """Run the background job worker until interrupted."""
    from services.jobs.worker import Worker

    settings = _settings()
    _configure_logging(settings)
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        # Jobs run and processing times of this worker; queue depths come from the API's /metrics.
        start_http_server(settings.worker_metrics_port)

    async def work(context: AppContext) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Worker(context).run_forever(stop)

    _with_context(work)


@app.command()
def reindex() -> None:
    """Rebuild the search index from the database into a new versioned index and swap it in."""

    async def work(context: AppContext) -> int:
        from services.indexing.service import rebuild_search_index

        return await rebuild_search_index(context, progress=True)

    count = _with_context(work)
    typer.echo(f"reindexed {count} documents")


@app.command()
def gc(
    grace_minutes: Annotated[
        int | None, typer.Option(help="Leave unreferenced blobs younger than this (default: settings)")
    ] = None,
) -> None:
    """Reconcile blobs and rows: expire abandoned uploads, delete orphan blobs, flag missing content."""
    from datetime import timedelta

    from services.maintenance.service import GcReport, collect_garbage

    async def work(context: AppContext) -> GcReport:
        grace = timedelta(minutes=grace_minutes) if grace_minutes is not None else None
        return await collect_garbage(context, grace=grace)

    report = _with_context(work)
    for line in report.lines():
        typer.echo(line)
    typer.echo("fixed nothing: blobs and rows agree" if not report.fixed_anything else "done")


@app.command()
def backup(
    out: Annotated[Path, typer.Argument(help="The archive to write (OUT.sha256 is written beside it)")],
) -> None:
    """Embedded mode: a consistent snapshot of database, blobs and key into one archive, while serving."""
    from services.backup import service

    settings = _settings()
    try:
        with _byte_progress() as track:
            manifest = service.backup(settings, out, track("backing up"))
    except service.BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    blobs = sum(1 for name in manifest.files if name.startswith("blobs/objects/"))
    typer.echo(f"backed up {sum(manifest.row_counts.values())} rows and {blobs} blobs to {out} (+ .sha256)")


@app.command()
def restore(
    archive: Annotated[
        Path, typer.Argument(help="An archive of `jiaoyun backup`", exists=True, dir_okay=False)
    ],
) -> None:
    """Embedded mode: restore a backup into an empty data directory and verify it."""
    import asyncio as _asyncio

    from services import wiring
    from services.backup import service

    assert wiring.REGISTERED_MODULES  # search sources, for the rebuild
    settings = _settings()
    try:
        with _byte_progress() as track:
            checking, restoring = track("checking the archive"), track("restoring")
            report = _asyncio.run(
                service.restore(settings, archive, verify_progress=checking, extract_progress=restoring)
            )
    except service.BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for line in report.lines:
        typer.echo(line)
    typer.echo(f"restored into {settings.data_dir}")


@contextlib.contextmanager
def _byte_progress() -> Iterator[Callable[[str], Callable[[int, int], None]]]:
    """One progress display; each call of what it yields adds a bar and gives its update function."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:

        def track(description: str) -> Callable[[int, int], None]:
            task = bar.add_task(description, total=None)
            return lambda done, total: bar.update(task, completed=done, total=total)

        yield track


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="Login name")],
    password: Annotated[str, typer.Option(help="Password (at least 8 characters)")],
    display_name: Annotated[str | None, typer.Option(help="Name shown to others")] = None,
) -> None:
    """Create a district administrator (the first account of a new installation)."""
    from services.identity.service import create_district_admin

    async def work(context: AppContext) -> str:
        async with context.sessionmaker() as session, session.begin():
            user = await create_district_admin(session, username, password, display_name or username)
            return str(user.id)

    try:
        user_id = _with_context(work)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created district admin {username} ({user_id})")


@users_app.command("import")
def users_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (UTF-8 or GBK) with columns username,display_name,role,school,password",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    credentials_out: Annotated[
        Path | None,
        typer.Option(help="New CSV receiving username,password for every generated password"),
    ] = None,
    skip_existing: Annotated[
        bool, typer.Option(help="Skip rows whose username already exists instead of rejecting the file")
    ] = False,
) -> None:
    """Import users from a CSV file: all of them, or none if any row is invalid."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy.exc import IntegrityError

    from services.identity import importing

    def fail(messages: list[str]) -> typer.Exit:
        for message in messages:
            typer.echo(message, err=True)
        return typer.Exit(1)

    if credentials_out is not None and credentials_out.exists():
        # Overwriting would lose the passwords of an earlier import: they exist nowhere else.
        raise fail([f"error: {credentials_out} already exists; choose a new file for the credentials"])
    rows, parse_errors = importing.parse_user_csv(file.read_bytes())

    async def work(context: AppContext) -> tuple[int, int, int]:
        temporary: Path | None = None
        try:
            async with context.sessionmaker() as session:
                async with session.begin():
                    users, errors, skipped = await importing.validate_rows(
                        session, rows, skip_existing=skip_existing
                    )
                if parse_errors or errors:
                    problems = importing.by_line(parse_errors + errors)
                    raise importing.ImportRejected(
                        [*problems, f"{len(problems)} problems; nothing was imported"]
                    )
                credentials = importing.generated_credentials(users)
                if credentials and credentials_out is None:
                    raise importing.ImportRejected(
                        [
                            f"error: {len(credentials)} rows have no password; pass --credentials-out FILE "
                            "to receive the generated passwords (nothing was imported)"
                        ]
                    )
                if credentials and credentials_out is not None:
                    temporary = importing.write_credentials(credentials_out, credentials)
                columns = (
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                )
                # One transaction for all inserts; it opens only once the slow hashing is done.
                with Progress(*columns, console=Console(stderr=True), disable=not users) as progress:
                    task = progress.add_task("importing users", total=len(users))
                    async with session.begin():
                        count = await importing.import_users(
                            session, users, on_progress=lambda done: progress.update(task, completed=done)
                        )
        except BaseException:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            raise
        if temporary is not None and credentials_out is not None:
            temporary.replace(credentials_out)
        return count, skipped, len(credentials)

    try:
        imported, skipped, generated = _with_context(work)
    except importing.ImportRejected as exc:
        raise fail(exc.errors) from exc
    except importing.ImportConflict as exc:
        raise fail([f"error: {exc}; nothing was imported"]) from exc
    except IntegrityError as exc:
        raise fail([f"error: the database refused the users ({exc.orig}); nothing was imported"]) from exc
    except OSError as exc:
        raise fail([f"error: {exc}; nothing was imported"]) from exc
    if generated:
        typer.echo(f"wrote {generated} generated passwords to {credentials_out}")
    typer.echo(f"imported {imported} users ({skipped} skipped)")


@classes_app.command("import-teachers")
def classes_import_teachers(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (UTF-8 or GBK) with columns username,class,subject (class: 一年级五班, 高一3班 or 1-5)",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    school_year: Annotated[
        int | None, typer.Option(help="The school year (its starting year); default: the current one")
    ] = None,
) -> None:
    """Import teachers' class–subject assignments (任课安排): all rows or none. Classes that do not exist
    yet in the teacher's school are made."""
    from services.classes import importing

    data = file.read_bytes()

    async def work(context: AppContext) -> tuple[int, int]:
        async with context.sessionmaker() as session, session.begin():
            teachings = await importing.validate_teachings(session, data)
            return len(teachings), await importing.import_teachings(session, teachings, school_year)

    try:
        rows, added = _with_context(work)
    except importing.TeachingImportRejected as exc:
        for message in exc.errors:
            typer.echo(message, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"imported {rows} class–subject assignments ({added} new)")


if __name__ == "__main__":
    app()
