"""Who is asking: bearer-token dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from services.authz import Principal
from services.deps import SessionDep, SettingsDep
from services.errors import Unauthorized
from services.identity.repository import UserRepository
from services.identity.tokens import read_access_token
from storage.models.identity import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_optional_user(
    token: Annotated[str | None, Depends(oauth2_scheme)], session: SessionDep, settings: SettingsDep
) -> User | None:
    if token is None:
        return None
    user_id = read_access_token(token, settings)
    user = await UserRepository(session).get(user_id) if user_id else None
    # A bad token is an error, never a silent downgrade to guest.
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired token")
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise Unauthorized()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_principal(user: CurrentUser) -> Principal:
    return Principal.of(user)


def get_optional_principal(user: OptionalUser) -> Principal | None:
    return Principal.of(user) if user else None


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
