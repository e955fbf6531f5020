"""The `jiaoyun` command line."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from services.context import AppContext, build_context, prepare_backends
from services.settings import Settings
from storage.migrate import upgrade_to_head

T = TypeVar("T")

app = typer.Typer(help="教云 Jiaoyun — district education cloud", no_args_is_help=True)
admin_app = typer.Typer(help="Administration", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


def _with_context(work: Callable[[AppContext], Awaitable[T]], *, migrate: bool = True) -> T:
    async def run() -> T:
        context = build_context(Settings())
        try:
            await prepare_backends(context, migrate=migrate)
            return await work(context)
        finally:
            await context.close()

    return asyncio.run(run())


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
) -> None:
    """Apply pending migrations and serve the API (with the job worker in-process on embedded defaults)."""
    import uvicorn

    _configure_logging()
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.resolved_database_url)
    uvicorn.run(
        "services.app:create_app", factory=True, host=host, port=port, workers=workers, proxy_headers=True
    )


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.resolved_database_url)
    typer.echo("database is up to date")


@app.command()
def worker() -> None:
    """Run the background job worker until interrupted."""
    from services.jobs.worker import Worker

    _configure_logging()

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
        from services.search_sync import rebuild_search_index

        return await rebuild_search_index(context, progress=True)

    count = _with_context(work)
    typer.echo(f"reindexed {count} documents")


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


if __name__ == "__main__":
    app()
