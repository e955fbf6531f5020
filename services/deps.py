"""Request-scoped dependencies, injected as Annotated aliases.

Dependencies that do no I/O are `async def` all the same: FastAPI runs a plain `def` dependency in
its thread pool, a thread hop on every request for returning an attribute.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from search.index import SearchIndex
from services.context import AppContext
from services.errors import Conflict
from services.settings import Settings
from storage.blobs.base import BlobStore
from storage.database import refuse_writes

logger = logging.getLogger(__name__)


def _context_of(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def get_context(request: Request) -> AppContext:
    return _context_of(request)


ContextDep = Annotated[AppContext, Depends(get_context)]


_READ_ONLY_ROUTE = "jiaoyun_read_only"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def read_only(endpoint: Endpoint) -> Endpoint:
    """Marks a route whose requests write nothing (put it under the route decorator).

    Its session then runs without a transaction of its own where that saves round trips
    (storage.database.create_read_sessionmaker): no BEGIN, no COMMIT. The session refuses any write
    (a 500: the mark is wrong), so "one commit per request" still holds for every request that writes.
    """
    setattr(endpoint, _READ_ONLY_ROUTE, True)
    return endpoint


def _reads_only(request: Request) -> bool:
    return getattr(request.scope.get("endpoint"), _READ_ONLY_ROUTE, False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back when it raises.

    A unique or foreign key violation, from a flush in the handler or from the commit, is a 409: the
    services check for duplicates and rows in use first, but two requests can pass those checks at
    the same moment, and the database is what finally decides.

    A route marked read_only gets a session that may not write and has nothing to commit.
    """
    context = _context_of(request)
    if _reads_only(request):
        async with (context.read_sessionmaker or context.sessionmaker)() as session:
            refuse_writes(session)
            yield session
        return
    async with context.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            logger.info("integrity error answered with 409: %s", exc.orig)
            raise Conflict(
                "This conflicts with data saved at the same time (a duplicate, or something still in use); "
                "reload and try again"
            ) from exc
        except BaseException:
            await session.rollback()
            raise


# These take the request, not ContextDep: FastAPI solves a sub-dependency's own dependencies on
# every request even when its value is cached, and these run on nearly every request.
async def get_settings(request: Request) -> Settings:
    return _context_of(request).settings


async def get_blob_store(request: Request) -> BlobStore:
    return _context_of(request).blob_store


async def get_search_index(request: Request) -> SearchIndex:
    return _context_of(request).search_index


# scope="function": the commit happens before the response is sent, so a failed commit is an error
# response rather than a 200 for data that was never saved.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BlobStoreDep = Annotated[BlobStore, Depends(get_blob_store)]
SearchIndexDep = Annotated[SearchIndex, Depends(get_search_index)]
