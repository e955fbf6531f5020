"""Pages for finding one's way by textbook (教材同步) and my space (我的空间)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from services.assignments import service as assignments
from services.assignments.router import assignment_reads
from services.authz import Principal
from services.deps import SearchIndexDep, SessionDep
from services.library import service as library
from services.textbooks import service as textbooks
from services.textbooks.schemas import Tree, TreePath
from services.web.pages import PageUser, SignedInUser, principal_of, render_page
from services.web.templating import query_string

router = APIRouter(include_in_schema=False)


@router.get("/textbooks", response_class=HTMLResponse)
async def textbooks_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    index: SearchIndexDep,
    stage: Annotated[str, Query(max_length=8)] = "",
    subject: Annotated[str, Query(max_length=32)] = "",
    edition: Annotated[str, Query(max_length=64)] = "",
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    volume: Annotated[str, Query(max_length=16)] = "",
    all: bool = False,
) -> Response:
    """学段 → 学科 → 版本 → 册次 → 单元 → 课. A student's walk opens at their grade, and a subject at the
    edition their school uses (`all=1` shows every stage and edition)."""
    principal = principal_of(user)
    path = TreePath(
        stage=stage or None,
        subject=subject or None,
        edition=edition or None,
        grade=grade,
        volume=volume or None,
    )
    if not all:
        start, editions = await textbooks.home(session, principal)
        if path == TreePath() and start.grade:
            return RedirectResponse(
                f"/textbooks?{query_string({'stage': start.stage, 'grade': start.grade})}", 303
            )
        if path.subject and not path.edition and path.subject in editions:
            target = {**path.model_dump(exclude_none=True), "edition": editions[path.subject]}
            return RedirectResponse(f"/textbooks?{query_string(target)}", 303)
    tree = Tree.model_validate(await textbooks.tree(session, index, principal, path))

    def link(**step: object) -> str:
        return f"/textbooks?{query_string({**tree.path.model_dump(exclude_none=True), **step})}"

    return await render_page(request, session, user, "library/textbooks.html", tree=tree, link=link)


async def _my_space(session: SessionDep, principal: Principal) -> dict[str, Any]:
    favorites, favorite_total = await library.favorites(session, principal, 0, 50)
    history, history_total = await library.history(session, principal, 0, 30)
    lessons, _ = await library.history(session, principal, 0, 6, lessons_only=True)
    tasks = await assignment_reads(session, principal, await assignments.list_assignments(session, principal))
    open_tasks = sorted(
        (task for task in tasks if task.mine is not None and task.mine.state in ("due", "returned")),
        key=lambda task: task.due_at,
    )
    return {
        "favorites": favorites,
        "favorite_total": favorite_total,
        "history": history,
        "history_total": history_total,
        "lessons": lessons,
        "tasks": open_tasks,
    }


@router.get("/me", response_class=HTMLResponse)
async def my_space(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    """我的空间: 继续学习, 收藏, 浏览记录."""
    context = await _my_space(session, Principal.of(user))
    return await render_page(request, session, user, "library/me.html", **context)
