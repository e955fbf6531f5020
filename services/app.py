"""The FastAPI application: clients are created in the lifespan and injected per request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.assignments.router import router as assignments_router
from services.blob_links.router import router as blob_links_router
from services.classes.router import router as classes_router
from services.collections.router import router as collections_router
from services.context import AppContext, build_context, mixed_mode_warning, prepare_backends
from services.documents.router import router as screens_router
from services.errors import install_error_handlers
from services.health.router import router as health_router
from services.identity.router import router as identity_router
from services.jobs.worker import Worker
from services.library.router import router as library_router
from services.notifications.router import router as notifications_router
from services.observability.logs import configure_logging
from services.observability.middleware import RequestObservationMiddleware
from services.observability.router import router as metrics_router
from services.oidc.router import router as oidc_router
from services.request_limits import BodyLimitMiddleware
from services.research.review.router import router as review_router
from services.research.stats.router import router as research_stats_router
from services.research.topics.router import router as topics_router
from services.resources.router import router as resources_router
from services.review.router import router as publishing_review_router
from services.search.router import router as search_router
from services.security_headers import SecurityHeadersMiddleware
from services.settings import Settings
from services.showcase.router import router as showcase_router
from services.textbooks.router import router as textbooks_router
from services.video.router import router as video_router
from services.viewing.router import router as viewing_router
from services.web.classroom import router as classroom_router
from services.web.collections import router as collection_pages_router
from services.web.library import router as library_pages_router
from services.web.pages import error_page
from services.web.query import DropBlankPageQueryValues
from services.web.review import router as review_pages_router
from services.web.router import router as web_router
from services.web.showcase import router as showcase_pages_router
from services.web.static_files import CompressedStaticFiles
from services.web.templating import STATIC_DIR, STATIC_PREFIX
from services.wiring import REGISTERED_MODULES

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
assert REGISTERED_MODULES  # job handlers and search sources are registered on import


def create_app(
    settings: Settings | None = None, *, context: AppContext | None = None, migrate: bool = True
) -> FastAPI:
    """Build the app. Tests pass a ready context; otherwise one is built from settings at start-up,
    applying pending migrations first unless `migrate` is off."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = context is None
        active = context or build_context(settings or Settings())
        if owned:
            warning = mixed_mode_warning(active.settings)
            if warning:
                logger.warning(warning)
            await prepare_backends(active, migrate=migrate)
        app.state.context = active
        stop = asyncio.Event()
        worker_task: asyncio.Task[None] | None = None
        if owned and active.settings.runs_worker_in_process:
            worker_task = asyncio.create_task(Worker(active).run_forever(stop))
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            if owned:
                await active.close()

    app = FastAPI(
        title="Jiaoyun 教云",
        summary="District education cloud: lesson resources, search and teaching research",
        version="0.1.0",
        lifespan=lifespan,
    )
    if context is not None:
        # A context handed in (tests, embedding) is usable without running the lifespan.
        app.state.context = context
    # Errors of the web pages are Chinese HTML pages; everything under /api/v1 keeps its JSON shape.
    install_error_handlers(app, error_page)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(DropBlankPageQueryValues)
    # Around everything but the observation, so error responses and static files carry the headers too.
    app.add_middleware(SecurityHeadersMiddleware)
    # Outermost: its access line and metrics see every answer, error pages and 413s included.
    app.add_middleware(RequestObservationMiddleware)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(blob_links_router)
    app.include_router(identity_router)
    app.include_router(resources_router)
    app.include_router(screens_router)
    app.include_router(search_router)
    app.include_router(notifications_router)
    app.include_router(review_router)
    app.include_router(publishing_review_router)
    app.include_router(research_stats_router)
    app.include_router(video_router)
    app.include_router(viewing_router)
    app.include_router(topics_router)
    app.include_router(classes_router)
    app.include_router(assignments_router)
    app.include_router(textbooks_router)
    app.include_router(library_router)
    app.include_router(showcase_router)
    app.include_router(collections_router)
    app.include_router(oidc_router)
    app.include_router(web_router)
    app.include_router(classroom_router)
    app.include_router(library_pages_router)
    app.include_router(showcase_pages_router)
    app.include_router(collection_pages_router)
    app.include_router(review_pages_router)
    app.mount(STATIC_PREFIX, CompressedStaticFiles(directory=STATIC_DIR), name="static")
    return app


def create_app_migrated() -> FastAPI:
    """The factory `jiaoyun serve` gives uvicorn: serve has applied the migrations once already, so
    its N worker processes do not each run them again at the same moment. Logging is configured
    here, in each of those processes (uvicorn starts them afresh)."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings, migrate=False)
