"""Pages of collections (专题资源包): the list with filters, a collection, its editor, playing in order."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from services import authz
from services.collections import service as collections
from services.collections.repository import CollectionFilters, CollectionRepository
from services.deps import SearchIndexDep, SessionDep
from services.errors import NotFound
from services.resources import curriculum
from services.search import service as search
from services.web.pages import PageUser, SignedInUser, principal_of, render_page
from services.web.templating import query_string

router = APIRouter(include_in_schema=False)

LIST_SIZE = 24
ADD_SEARCH_SIZE = 10
PageNumber = Annotated[int, Query(ge=1, le=1000)]


@router.get("/collections", response_class=HTMLResponse)
async def collections_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    subject: Annotated[str, Query(max_length=32)] = "",
    stage: Annotated[str, Query(max_length=8)] = "",
    show: Annotated[str, Query(max_length=16)] = "",
    page: PageNumber = 1,
) -> Response:
    """Collections one may open, filtered by words, subject, stage; 我的 and 我关注的; a form to make one."""
    principal = principal_of(user)
    filters = CollectionFilters(
        q=q.strip() or None,
        subject=curriculum.canonical_subject(subject.strip()) if subject.strip() else None,
        stage=stage if stage in curriculum.STAGES else None,
        owner_id=principal.user_id if principal and show == "mine" else None,
        followed_by=principal.user_id if principal and show == "followed" else None,
    )
    items, total = await collections.listed(session, principal, filters, (page - 1) * LIST_SIZE, LIST_SIZE)
    shown = {"q": q, "subject": subject, "stage": stage, "show": show}
    return await render_page(
        request,
        session,
        user,
        "collections/list.html",
        items=items,
        total=total,
        q=q,
        subject=subject,
        stage=stage,
        show=show,
        stages=curriculum.STAGES,
        can_make=principal is not None and authz.can_make_collections(principal),
        next_page=f"/collections?{query_string({**shown, 'page': page + 1})}"
        if page * LIST_SIZE < total
        else None,
    )


@router.get("/collections/{collection_id}", response_class=HTMLResponse)
async def collection_page(
    collection_id: uuid.UUID, request: Request, user: PageUser, session: SessionDep
) -> Response:
    """A collection: its items in order (only those the viewer may open), follow, play in order."""
    principal = principal_of(user)
    collection = await collections.readable(session, principal, collection_id)
    detail = await collections.detail(session, principal, collection)
    first_lesson = next((item for item in detail.items if item.playable), None)
    return await render_page(
        request, session, user, "collections/detail.html", collection=detail, first_lesson=first_lesson
    )


@router.get("/collections/{collection_id}/edit", response_class=HTMLResponse)
async def collection_editor(
    collection_id: uuid.UUID,
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    index: SearchIndexDep,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Its details, cover, items (up/down buttons and drag and drop), and resources found by `q` to add."""
    principal = principal_of(user)
    assert principal is not None
    collection = await collections.readable(session, principal, collection_id)
    if not collections.can_edit(principal, collection):
        raise NotFound("Collection not found")
    detail = await collections.detail(session, principal, collection)
    found: list[dict[str, Any]] = []
    if q.strip():
        result = await search.search(
            session,
            index,
            principal,
            search.SearchRequest(text=q.strip(), limit=ADD_SEARCH_SIZE, group_by_parent=True),
        )
        held = {item.resource_id for item in detail.items}
        found = [
            {"id": hit.resource_id, "title": hit.title, "held": hit.resource_id in held}
            for hit in result.hits
            if hit.resource_id is not None and hit.kind != "post"
        ]
    return await render_page(
        request,
        session,
        user,
        "collections/edit.html",
        collection=detail,
        q=q,
        found=found,
        stages=curriculum.STAGES,
        is_district_admin=principal.is_district_admin,
    )


@router.get("/collections/{collection_id}/play", response_class=HTMLResponse)
async def play_page(
    collection_id: uuid.UUID,
    request: Request,
    user: PageUser,
    session: SessionDep,
    item: uuid.UUID | None = None,
) -> Response:
    """The collection's lessons one after another: when one ends, the next begins."""
    principal = principal_of(user)
    collection = await collections.readable(session, principal, collection_id)
    detail = await collections.detail(session, principal, collection)
    lessons = [entry for entry in detail.items if entry.playable]
    if not lessons:
        raise NotFound("This collection has no lesson to play")
    current = next((index for index, entry in enumerate(lessons) if entry.id == item), 0)
    lesson = lessons[current]
    assert lesson.resource_id is not None
    videos = await CollectionRepository(session).lesson_videos([lesson.resource_id])
    video = videos[lesson.resource_id]
    following = lessons[current + 1] if current + 1 < len(lessons) else None
    return await render_page(
        request,
        session,
        user,
        "collections/play.html",
        collection=detail,
        lessons=lessons,
        lesson=lesson,
        current=current,
        video_url=f"/api/v1/resources/{lesson.resource_id}/files/{video.id}/content",
        next_url=f"/collections/{detail.id}/play?item={following.id}" if following else None,
    )
