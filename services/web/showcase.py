"""The showcase on the pages: the home page's featured and exemplary sections, the badge and the
reviewers' controls on a resource's page, and the 优秀课例 list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services import authz
from services.authz import Principal
from services.collections import service as collections
from services.collections.repository import CollectionFilters
from services.deps import SessionDep
from services.resources import service as resources
from services.showcase import service as showcase
from services.showcase.schemas import LEVEL_LABELS, exemplary_label
from services.web import views
from services.web.pages import PageUser, principal_of, render_page
from storage.database import utcnow
from storage.models.resources import Resource
from storage.models.showcase import ExemplaryLevel

router = APIRouter(include_in_schema=False)

HOME_SECTION_SIZE = 8


async def _cards(session: AsyncSession, rows: list[tuple[Resource, Any]]) -> list[views.Card]:
    posters = await resources.poster_files(session, [resource.id for resource, _ in rows])
    return [views.card(resource, posters) for resource, _ in rows]


async def home_sections(session: AsyncSession, principal: Principal | None) -> dict[str, Any]:
    """精选资源 and 优秀课例 for the home page: only what the viewer may open."""
    featured, _ = await showcase.listed(session, principal, featured=True, limit=HOME_SECTION_SIZE)
    exemplary, _ = await showcase.listed(session, principal, limit=HOME_SECTION_SIZE)
    featured_cards = await _cards(session, featured)
    exemplary_cards = await _cards(session, exemplary)
    return {
        "featured": featured_cards,
        "exemplary": [
            (card, exemplary_label(mark.exemplary_level, mark.exemplary_year))
            for card, (_, mark) in zip(exemplary_cards, exemplary, strict=True)
        ],
    }


async def resource_panel(session: AsyncSession, principal: Principal | None, resource: Any) -> dict[str, Any]:
    """The badge, the marking controls for whoever may mark, and 加入资源包 for collection makers."""
    marks = await showcase.marks_of(session, [resource.id])
    mark = marks.get(resource.id)
    levels = [
        (level.value, LEVEL_LABELS[level])
        for level in ExemplaryLevel
        if authz.can_mark_exemplary(principal, resource, level.value)
    ]
    my_collections: list[Any] = []
    if principal is not None and authz.can_make_collections(principal):
        my_collections, _ = await collections.listed(
            session, principal, CollectionFilters(owner_id=principal.user_id), 0, 50
        )
    return {
        "showcase": showcase.read(resource.id, mark),
        "mark_levels": levels,
        "can_feature": authz.can_feature(principal, resource),
        "this_year": utcnow().year,
        "my_collections": my_collections,
    }


@router.get("/showcase", response_class=HTMLResponse)
async def showcase_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    level: Annotated[str, Query(max_length=16)] = "",
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """优秀课例 by level and year, and the featured resources."""
    principal = principal_of(user)
    chosen = ExemplaryLevel(level) if level in ExemplaryLevel.__members__ else None
    rows, total = await showcase.listed(session, principal, level=chosen, year=year, limit=60)
    cards = await _cards(session, rows)
    return await render_page(
        request,
        session,
        user,
        "showcase/list.html",
        exemplary=[
            (card, exemplary_label(mark.exemplary_level, mark.exemplary_year))
            for card, (_, mark) in zip(cards, rows, strict=True)
        ],
        total=total,
        level=chosen.value if chosen else "",
        year=year,
        levels=LEVEL_LABELS,
        featured=(await home_sections(session, principal))["featured"],
    )
