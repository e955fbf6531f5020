"""Pages of single sign-on: off to the provider, back from it, and signing out of both."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.deps import ContextDep, SessionDep, SettingsDep
from services.errors import AppError, Forbidden, NotFound
from services.identity import service as identity
from services.identity.browser import (
    SESSION_COOKIE,
    clear_session_cookies,
    form_csrf_matches,
    set_session_cookies,
)
from services.identity.tokens import issue_access_token
from services.oidc import service
from services.oidc.client import OidcClient
from services.settings import Settings
from services.web.pages import PageUser, render_page

router = APIRouter(tags=["single sign-on"], include_in_schema=False)

STATE_COOKIE = "jiaoyun_oidc_state"
STATE_COOKIE_PATH = "/auth/oidc"


def _client(context_oidc: OidcClient | None) -> OidcClient:
    if context_oidc is None:
        raise NotFound("Single sign-on is not set up")
    return context_oidc


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (//evil.example, /\\evil.example)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _secure(settings: Settings) -> bool:
    return settings.public_base_url.lower().startswith("https://")


@router.get("/auth/oidc/login")
async def start(
    context: ContextDep, session: SessionDep, next: Annotated[str, Query(max_length=2000)] = "/"
) -> Response:
    """Off to the identity provider, with a state this browser alone can bring back."""
    client = _client(context.oidc)
    started = await service.start_sign_in(session, client, _safe_next(next))
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        started.state,
        max_age=int(service.SIGN_IN_TTL.total_seconds()),
        path=STATE_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(context.settings),
    )
    return response


@router.get("/auth/oidc/callback", response_class=HTMLResponse)
async def callback(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Back from the provider: the state checked and used up, the code exchanged, the ID token
    verified, the person found (or created) and signed in with our own session, as with a password."""
    client = _client(context.oidc)
    settings = context.settings
    try:
        if error or not code or not state:
            raise service.SignInRefused("The identity provider did not sign you in")
        user, next_url = await service.finish_sign_in(
            context.sessionmaker,
            client,
            settings,
            state=state,
            browser_state=request.cookies.get(STATE_COOKIE),
            code=code,
        )
    except AppError as exc:
        response = await render_page(
            request, session, None, "oidc_refused.html", status_code=exc.status_code, message=exc.message
        )
        response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
        return response
    token, expires_in = issue_access_token(user, settings)
    signed_in = RedirectResponse(next_url, status_code=303)
    set_session_cookies(signed_in, token, expires_in, settings)
    signed_in.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)
    return signed_in


@router.post("/auth/oidc/logout", response_class=HTMLResponse)
async def logout_everywhere(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Ends our session and offers the provider's end-session page, to end the single sign-on
    session too. A link, not a redirect: the pages' CSP keeps forms from leading to other sites."""
    if not form_csrf_matches(request, csrf_token):
        raise Forbidden("The sign-out form is out of date")
    end_session_url = await _client(context.oidc).end_session_url()
    # Our token ends on the server too, as with the plain sign-out: a copy of the cookie is useless.
    token = request.cookies.get(SESSION_COOKIE)
    if user is not None and token is not None:
        await identity.sign_out(session, settings, user, token)
    response = await render_page(
        request, session, None, "oidc_signed_out.html", end_session_url=end_session_url
    )
    clear_session_cookies(response, settings)
    return response
