"""Browser sessions: the same JWT as the API's bearer token, carried in an HttpOnly cookie.

A cookie is sent by the browser on its own, so requests that change something must also prove they
come from our pages: they carry the CSRF token in a header (double submit). The token is derived from
the session token with the secret key, so nothing is stored server-side and any replica can check it,
and a cookie planted by a neighbouring site cannot be paired with a token of the attacker's choosing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from services.errors import Forbidden
from services.settings import Settings

SESSION_COOKIE = "jiaoyun_session"
# Readable by the pages' scripts, which copy it into the header below.
CSRF_COOKIE = "jiaoyun_csrf"
CSRF_HEADER = "X-CSRF-Token"
# The same token, for plain HTML forms (sign in, sign out) that cannot set a header.
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token_for(session_token: str, settings: Settings) -> str:
    digest = hmac.new(
        settings.secret_key.get_secret_value().encode(), b"csrf:" + session_token.encode(), hashlib.sha256
    )
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode()


def anonymous_csrf_token() -> str:
    """For the sign-in form, before there is a session to derive a token from."""
    return secrets.token_urlsafe(24)


def _tokens_match(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))


def check_csrf_header(request: Request, session_token: str, settings: Settings) -> None:
    """An unsafe request authenticated by cookie: the header must equal the cookie, and both the token
    this session's cookie implies. 403 otherwise."""
    header = request.headers.get(CSRF_HEADER)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not (_tokens_match(header, cookie) and _tokens_match(header, csrf_token_for(session_token, settings))):
        raise Forbidden(f"Requests signed in by cookie must send the {CSRF_HEADER} header from the page")


def form_csrf_matches(request: Request, submitted: str | None) -> bool:
    """For HTML forms: the submitted field equals the CSRF cookie."""
    return _tokens_match(submitted, request.cookies.get(CSRF_COOKIE))


def _secure(settings: Settings) -> bool:
    return settings.public_base_url.lower().startswith("https://")


def set_session_cookies(response: Response, session_token: str, expires_in: int, settings: Settings) -> None:
    secure = _secure(settings)
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        max_age=expires_in,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    set_csrf_cookie(response, csrf_token_for(session_token, settings), settings, max_age=expires_in)


def set_csrf_cookie(
    response: Response, token: str, settings: Settings, *, max_age: int | None = None
) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=False,
        samesite="lax",
        secure=_secure(settings),
    )


def clear_session_cookies(response: Response, settings: Settings) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="lax", secure=_secure(settings))
