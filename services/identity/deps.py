"""Who is asking: a bearer token, or the browser's session cookie (with its CSRF header)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.deps import SessionDep, SettingsDep
from services.errors import Unauthorized
from services.identity.browser import SAFE_METHODS, SESSION_COOKIE, check_csrf_header
from services.identity.repository import UserRepository
from services.identity.tokens import read_access_token
from services.settings import Settings
from storage.models.identity import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def user_for_token(session: AsyncSession, settings: Settings, token: str) -> User | None:
    """The active user a valid token names; None for an expired, forged, deactivated or revoked one
    (issued before the user's last password change, deactivation or "sign out everywhere") or signed
    out one."""
    claims = read_access_token(token, settings)
    if claims is None:
        return None
    # Signed out: the token still verifies, but the server has ended it (read with the user, one query).
    user, revoked = await UserRepository(session).get_with_revocation(claims.user_id, claims.token_id)
    if user is None or not user.is_active or user.token_version != claims.version or revoked:
        return None
    return user


async def get_optional_user(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    session: SessionDep,
    settings: SettingsDep,
) -> User | None:
    if token is None:
        # No Authorization header: the browser's session cookie, if any. The browser sends it by
        # itself, so a request that changes something must prove it comes from our pages.
        token = request.cookies.get(SESSION_COOKIE)
        if token is None:
            return None
        if request.method not in SAFE_METHODS:
            check_csrf_header(request, token, settings)
    user = await user_for_token(session, settings, token)
    # A bad token is an error, never a silent downgrade to guest.
    if user is None:
        raise Unauthorized("Invalid or expired token")
    request.state.user_id = user.id  # for the access line
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def presented_token(request: Request, bearer: str | None) -> str | None:
    """The token this request is signed in with: the bearer token, else the session cookie."""
    return bearer if bearer is not None else request.cookies.get(SESSION_COOKIE)


async def get_presented_token(
    request: Request, bearer: Annotated[str | None, Depends(oauth2_scheme)]
) -> str | None:
    return presented_token(request, bearer)


PresentedToken = Annotated[str | None, Depends(get_presented_token)]


async def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise Unauthorized()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_principal(user: CurrentUser) -> Principal:
    return Principal.of(user)


async def get_optional_principal(user: OptionalUser) -> Principal | None:
    return Principal.of(user) if user else None


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
