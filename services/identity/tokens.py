"""Signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from services.settings import Settings
from storage.database import utcnow
from storage.models.identity import User

ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    # The user's token_version when the token was issued; it is current only while they still match.
    version: int
    # Names this token alone, so signing out can end it; None in tokens issued before ids existed.
    token_id: str | None = None
    expires_at: datetime | None = None


def issue_access_token(user: User, settings: Settings) -> tuple[str, int]:
    lifetime = timedelta(minutes=settings.access_token_ttl_minutes)
    now = utcnow()
    token = jwt.encode(
        {
            "sub": str(user.id),
            "ver": user.token_version,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + lifetime,
            "typ": "access",
        },
        settings.secret_key.get_secret_value(),
        algorithm=ALGORITHM,
    )
    return token, int(lifetime.total_seconds())


def read_access_token(token: str, settings: Settings) -> AccessClaims | None:
    """Who a valid, unexpired token names, and its version; None for anything else."""
    secret = settings.secret_key.get_secret_value()
    claims = _VERIFIED.get((token, secret))
    if claims is None:
        claims = _verify(token, secret)
        if claims is None:
            return None
        if len(_VERIFIED) >= _VERIFIED_KEPT:
            _VERIFIED.clear()
        _VERIFIED[(token, secret)] = claims
    if claims.expires_at is None or claims.expires_at <= utcnow():
        return None
    return claims


# Tokens whose signature and claims checked out, by token and key: a token always says the same, so
# a process verifies each once (HS256, base64 and JSON were ~0.3 ms of every signed-in request).
# Expiry is checked on every use above; whether the token was signed out, and the user's state, are
# read from the database on every request (deps.user_for_token), never kept here. Failures are not
# kept: a token another replica's clock finds not yet valid (iat) is tried again next time.
_VERIFIED: dict[tuple[str, str], AccessClaims] = {}
_VERIFIED_KEPT = 4096


def _verify(token: str, secret: str) -> AccessClaims | None:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
        if claims.get("typ") != "access":
            return None
        # Tokens from before versions existed carry none: version 0, every user's first.
        version = claims.get("ver", 0)
        token_id = claims.get("jti")
        if not isinstance(version, int) or not isinstance(token_id, str | None):
            return None
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        return AccessClaims(uuid.UUID(str(claims["sub"])), version, token_id, expires_at)
    except (jwt.PyJWTError, ValueError):
        return None
