"""What every page shares: who is signed in (by cookie), the page frame, and the HTML error pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services import authz
from services.authz import Principal
from services.deps import SessionDep, SettingsDep
from services.errors import AppError
from services.identity.browser import CSRF_COOKIE, SESSION_COOKIE
from services.identity.deps import user_for_token
from services.notifications import service as notifications
from services.review import service as publishing_review
from services.video import service as video
from services.web.templating import render
from storage.models.identity import Role, User

# The modules whose routes are pages (their errors are always HTML).
PAGE_ROUTES_MODULES = (
    "services.web.router",
    "services.web.classroom",
    "services.web.library",
    "services.web.showcase",
    "services.web.collections",
    "services.web.review",
)
# Paths that are not pages: their errors stay in the API's JSON shape.
_NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/static/")

# Defence in depth against injected markup: the pages load script, style and media from this site only
# and have no inline script, so even a tag that slipped through escaping could not run.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_ERROR_MESSAGES = {
    400: ("请求有误", "请检查填写的内容后再试。"),
    401: ("请先登录", "登录后才能查看这个页面。"),
    403: ("没有权限", "你没有权限查看或进行这项操作。如有疑问，请联系学校或区级管理员。"),
    404: ("页面不存在", "找不到这个页面：它可能已被删除，或者你没有权限查看。"),
    422: ("请求参数有误", "链接中的参数不正确，请返回上一页重试。"),
    429: ("尝试次数过多", "请稍后再试。"),
    500: ("服务器出错了", "请稍后再试；如果问题持续，请联系管理员。"),
    503: ("服务暂不可用", "有后台服务暂时无法连接，请稍后再试。"),
}


class SignInRequired(AppError):
    status_code = 401
    code = "unauthorized"


@dataclass(frozen=True)
class Viewer:
    """Who a page is for, as the page frame shows them, copied off the user row: an error page still
    shows who is signed in after the request's session has rolled back and expired that row."""

    display_name: str
    role: Role
    principal: Principal

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(display_name=user.display_name, role=user.role, principal=Principal.of(user))


async def get_page_user(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    """The signed-in user of a page; an expired cookie simply means a guest (pages then offer sign-in)."""
    token = request.cookies.get(SESSION_COOKIE)
    user = await user_for_token(session, settings, token) if token else None
    if user is not None:
        request.state.viewer = Viewer.of(user)
        request.state.user_id = user.id  # for the access line
    return user


PageUser = Annotated[User | None, Depends(get_page_user)]


async def require_page_user(user: PageUser) -> User:
    if user is None:
        raise SignInRequired("Sign in to see this page")
    return user


SignedInUser = Annotated[User, Depends(require_page_user)]


def principal_of(user: User | None) -> Principal | None:
    return Principal.of(user) if user is not None else None


def is_page_request(request: Request) -> bool:
    """A request of the web pages: one a page route answers, or (for paths nothing answers) one from a
    browser asking for HTML. Everything else keeps the API's JSON errors."""
    if request.url.path.startswith(_NOT_PAGES):
        return False
    endpoint = request.scope.get("endpoint")
    if endpoint is not None:
        return getattr(endpoint, "__module__", "") in PAGE_ROUTES_MODULES
    return "text/html" in request.headers.get("accept", "")


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def _frame(
    request: Request,
    user: User | Viewer | None,
    principal: Principal | None,
    unread: int,
    to_review: int = 0,
) -> dict[str, Any]:
    return {
        "request": request,
        "user": user,
        "unread": unread,
        "to_review": to_review,
        "csrf_token": request.cookies.get(CSRF_COOKIE, ""),
        "can_upload": principal is not None and principal.role != Role.student,
        "can_discuss": principal is not None and authz.can_open_topic(principal),
        "is_admin": principal is not None and principal.role in (Role.school_admin, Role.district_admin),
        "is_district_admin": principal is not None and principal.is_district_admin,
        "is_reviewer": principal is not None
        and principal.role in (Role.research_lead, Role.school_admin, Role.district_admin),
        "can_edit_framework": principal is not None and authz.can_edit_observation_framework(principal),
        "path": request.url.path,
    }


async def render_page(
    request: Request,
    session: AsyncSession,
    user: User | None,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    unread = await notifications.unread_count(session, user.id) if user is not None else 0
    principal = principal_of(user)
    # Reviewers see what waits for them on the header's 审核 badge; 0 (no query) for everyone else.
    to_review = await publishing_review.queue_count(session, principal) if principal is not None else 0
    body = render(template, {**_frame(request, user, principal, unread, to_review), **context})
    # Pages show what one user may see: never kept by shared caches, nor reused after signing out.
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={"Cache-Control": "private, no-store", **_page_headers(request)},
    )


def _page_headers(request: Request) -> dict[str, str]:
    """PAGE_HEADERS; in S3 mode the lesson player also fetches HLS segments from object storage
    (presigned URLs in the playlists, services/video), whose origin the policy then names."""
    context = getattr(request.app.state, "context", None)
    origin = video.segment_origin(context.settings) if context is not None else None
    if origin is None:
        return PAGE_HEADERS
    policy = PAGE_HEADERS["Content-Security-Policy"]
    policy = policy.replace("media-src 'self' blob:", f"media-src 'self' blob: {origin}")
    policy = policy.replace("connect-src 'self'", f"connect-src 'self' {origin}")
    return {**PAGE_HEADERS, "Content-Security-Policy": policy}


def error_page(request: Request, status_code: int, code: str, message: str) -> Response | None:
    """The HTML side of the app's error handlers: Chinese error pages for page requests, and signing
    in for pages that need it. API paths get None, i.e. their JSON."""
    if not is_page_request(request):
        return None
    if status_code == 401:
        return RedirectResponse(sign_in_url(request), status_code=303)
    title, explanation = _ERROR_MESSAGES.get(status_code, ("出错了", "请返回上一页重试。"))
    # Whoever the page dependency found signed in, if it ran (the unread count is left out: the
    # database may be what failed).
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    frame = _frame(request, viewer, viewer.principal if viewer else None, 0)
    body = render(
        "error.html",
        {**frame, "status_code": status_code, "title": title, "explanation": explanation},
    )
    return HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store", **PAGE_HEADERS})
