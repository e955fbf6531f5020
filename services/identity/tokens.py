"""Signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt

from services.settings import Settings
from storage.database import utcnow

ALGORITHM = "HS256"


def issue_access_token(user_id: uuid.UUID, settings: Settings) -> tuple[str, int]:
    lifetime = timedelta(minutes=settings.access_token_ttl_minutes)
    now = utcnow()
    token = jwt.encode(
        {"sub": str(user_id), "iat": now, "exp": now + lifetime, "typ": "access"},
        settings.secret_key.get_secret_value(),
        algorithm=ALGORITHM,
    )
    return token, int(lifetime.total_seconds())


def read_access_token(token: str, settings: Settings) -> uuid.UUID | None:
    """The user id in a valid, unexpired token; None for anything else."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
        if claims.get("typ") != "access":
            return None
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError):
        return None
