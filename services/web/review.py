"""Pages of approval before district-wide publishing (审核): a reviewer's queue with the selected item
shown inline and decided from the keyboard, research leads' subjects, and the owner's view of a
resource's review (a panel on the resource page, filled from the API by resource.js)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from services.authz import Principal
from services.deps import SessionDep
from services.errors import Forbidden, NotFound
from services.identity import service as identity
from services.resources import curriculum
from services.resources import service as resources
from services.resources.router import resource_read
from services.review import service as review
from services.review.repository import QueueFilters
from services.review.schemas import ReviewRequestRead
from services.web.pages import SignedInUser, principal_of, render_page
from services.web.templating import query_string
from storage.models.identity import Role

router = APIRouter(include_in_schema=False)


async def _inline_subject(session: SessionDep, item: ReviewRequestRead) -> dict[str, Any]:
    """The selected item's newest round as the resource page shows it: its video, or its document's
    pages; its files to open."""
    if item.subject_type != resources.SHARE_TYPE:
        return {"detail": None, "primary": None, "pages": []}
    try:
        loaded = await resources.resource_with_files(session, item.subject_id)
    except NotFound:  # deleted since: deciding will say so
        return {"detail": None, "primary": None, "pages": []}
    detail = resource_read(loaded)
    version = detail.versions[0] if detail.versions else None
    primary = next((file for file in version.files if file.purpose == "primary"), None) if version else None
    pages: list[Any] = []
    if primary is not None and primary.category in ("document", "image"):
        orm = next(file for file in loaded.files if file.id == primary.id)
        pages = await resources.file_pages(session, orm)
    return {"detail": detail, "version": version, "primary": primary, "pages": pages}


def _is_reviewer(principal: Principal) -> bool:
    return principal.role in (Role.research_lead, Role.school_admin, Role.district_admin)


@router.get("/review", response_class=HTMLResponse)
async def review_queue_page(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    subject: Annotated[str, Query(max_length=32)] = "",
    stage: Annotated[str, Query(max_length=8)] = "",
    school_id: Annotated[str, Query(max_length=36)] = "",
    kind: Annotated[str, Query(max_length=32)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    item: uuid.UUID | None = None,
) -> Response:
    """The queue, oldest first, filtered by subject/stage/school/type and words of the title; the
    selected item (the first by default) shown inline with approve/reject/return. Keys: j/k next and
    previous, a approve, r reject (with a reason), e return for changes."""
    principal = principal_of(user)
    assert principal is not None
    if not _is_reviewer(principal):
        raise Forbidden("The review queue is for research leads and administrators")
    try:
        school = uuid.UUID(school_id) if school_id else None
    except ValueError:
        school = None
    filters = QueueFilters(
        subject=subject or None,
        stage=stage or None,
        school_id=school,
        kind=kind or None,
        text=q.strip() or None,
    )
    items, total = await review.queue(session, principal, filters, offset=0, limit=100)
    selected = next((entry for entry in items if entry.id == item), items[0] if items else None)
    detail = await review.request_detail(session, principal, selected.id) if selected else None
    schools, _ = await identity.list_schools(session, offset=0, limit=500)
    kept = {"subject": subject, "stage": stage, "school_id": school_id, "kind": kind, "q": q}

    def link(entry: ReviewRequestRead) -> str:
        return f"/review?{query_string({**kept, 'item': entry.id})}"

    return await render_page(
        request,
        session,
        user,
        "review/queue.html",
        items=items,
        total=total,
        selected=selected,
        detail=detail,
        inline=await _inline_subject(session, selected) if selected else None,
        link=link,
        filters=kept,
        subjects=curriculum.SUBJECTS,
        stages=curriculum.STAGES,
        schools=schools,
    )


@router.get("/admin/review", response_class=HTMLResponse)
async def review_admin_page(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    """District admins: which research lead reviews which subject and stage, and which schools review
    their own school publishing. School admins: their school's setting. Both: review statistics."""
    principal = principal_of(user)
    assert principal is not None
    if not (principal.is_district_admin or principal.role == Role.school_admin):
        raise Forbidden("Review settings are for administrators")
    leads: list[Any] = []
    research_leads: list[Any] = []
    if principal.is_district_admin:
        leads = await review.list_leads(session, principal)
        research_leads, _ = await identity.list_users(
            session, principal, school_id=None, role=Role.research_lead, text=None, offset=0, limit=500
        )
        schools, _ = await identity.list_schools(session, offset=0, limit=500)
    else:
        assert principal.school_id is not None
        schools = [await identity.get_school(session, principal.school_id)]
    settings = {
        school.id: (await review.school_review(session, principal, school.id)).review_required
        for school in schools
    }
    stats = await review.review_stats(session, principal, school_id=None, since=None, until=None)
    return await render_page(
        request,
        session,
        user,
        "review/admin.html",
        leads=leads,
        stats=stats,
        schools=schools,
        school_settings=settings,
        research_leads=research_leads,
        subjects=curriculum.SUBJECTS,
        stages=curriculum.STAGES,
    )
