"""Signing in through the district's OpenID provider (统一身份认证).

Start: a state, a nonce and a PKCE verifier are made and kept in the database (the state as a hash)
and the browser goes to the provider with the state also in a short-lived cookie. Callback: the
state must match the cookie (no one can finish a sign-in started in another browser) and be taken
from the database (it completes once: a replayed callback finds nothing), the code is exchanged with
the verifier, the ID token validated (signature, issuer, audience, expiry, nonce), and the person
found or created from the claims. Accounts are the same whether imported from CSV or created here:
first by the external id claim, then by username (which links the imported account to it).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.errors import AppError
from services.identity.service import SCHOOL_ROLES
from services.observability import metrics
from services.oidc.client import InvalidIdToken, OidcClient, ProviderError
from services.oidc.repository import AccountRepository, SignInRepository
from services.settings import Settings
from storage.database import utcnow
from storage.models.identity import OidcSignIn, Role, User

logger = logging.getLogger(__name__)

SIGN_IN_TTL = timedelta(minutes=10)
# No password works for these accounts: argon2 hashes start with "$", so nothing ever verifies.
NO_PASSWORD = "!oidc"  # noqa: S105 (a marker no password matches)
# When several mapped values apply, the strongest role wins.
ROLE_PRECEDENCE = (Role.district_admin, Role.research_lead, Role.school_admin, Role.teacher, Role.student)


class SignInRefused(AppError):
    status_code = 403
    code = "sign_in_refused"


class ProviderUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


@dataclass(frozen=True)
class StartedSignIn:
    state: str
    url: str


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


async def start_sign_in(session: AsyncSession, client: OidcClient, next_url: str) -> StartedSignIn:
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
    try:
        url = await client.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
    except ProviderError as exc:
        logger.warning("OpenID provider unavailable: %s", exc)
        raise ProviderUnavailable("The identity provider is unavailable, try again shortly") from exc
    repository = SignInRepository(session)
    now = utcnow()
    await repository.forget_expired(now)
    repository.add(
        OidcSignIn(
            state_hash=state_hash(state),
            nonce=nonce,
            code_verifier=verifier,
            next_url=next_url,
            expires_at=now + SIGN_IN_TTL,
        )
    )
    return StartedSignIn(state=state, url=url)


def parse_role_map(text: str) -> dict[str, Role]:
    """ "teachers=teacher, 教研员=research_lead" → {"teachers": teacher, "教研员": research_lead}."""
    mapping: dict[str, Role] = {}
    for pair in text.split(","):
        if "=" in pair:
            value, _, role = pair.rpartition("=")
            mapping[value.strip()] = Role(role.strip())
    return mapping


def _values(claim: Any) -> list[str]:
    if claim is None:
        return []
    if isinstance(claim, list | tuple):
        return [str(item) for item in claim]
    return [str(claim)]


def mapped_role(settings: Settings, claims: dict[str, Any]) -> Role:
    mapping = parse_role_map(settings.oidc_role_map)
    found = {mapping[value] for value in _values(claims.get(settings.oidc_role_claim)) if value in mapping}
    for role in ROLE_PRECEDENCE:
        if role in found:
            return role
    return Role(settings.oidc_default_role)


def _claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


async def finish_sign_in(
    sessions: async_sessionmaker[AsyncSession],
    client: OidcClient,
    settings: Settings,
    *,
    state: str,
    browser_state: str | None,
    code: str,
) -> tuple[User, str]:
    """The signed-in user and where to go next; SignInRefused (403) for anything wrong."""
    if not browser_state or not hmac.compare_digest(browser_state, state):
        metrics.login_failures.labels("oidc", "state_mismatch").inc()
        raise SignInRefused("This sign-in was not started in this browser; start again")
    async with sessions.begin() as session:
        pending = await SignInRepository(session).take(state_hash(state), utcnow())
    if pending is None:
        metrics.login_failures.labels("oidc", "unknown_state").inc()
        raise SignInRefused("This sign-in has expired or was completed already; start again")
    try:
        token = await client.exchange_code(code, pending.code_verifier)
        claims = await client.validate_id_token(
            token["id_token"], nonce=pending.nonce, access_token=token["access_token"]
        )
        userinfo = await client.userinfo(token["access_token"])
    except InvalidIdToken as exc:
        metrics.login_failures.labels("oidc", "invalid_token").inc()
        logger.warning("OpenID sign-in refused: %s", exc)
        raise SignInRefused("The identity provider's answer could not be verified") from exc
    except ProviderError as exc:
        logger.warning("OpenID provider unavailable: %s", exc)
        raise ProviderUnavailable("The identity provider is unavailable, try again shortly") from exc
    if userinfo and userinfo.get("sub") != claims.get("sub"):
        metrics.login_failures.labels("oidc", "invalid_token").inc()
        raise SignInRefused("The identity provider's answer could not be verified")
    async with sessions.begin() as session:
        user = await account_for_claims(session, settings, {**userinfo, **claims})
    return user, pending.next_url


async def account_for_claims(session: AsyncSession, settings: Settings, claims: dict[str, Any]) -> User:
    """The account these (verified) claims name: by external id, else by username (linking an
    account imported earlier), else a new one if the settings allow it."""
    external_id = _claim(claims, settings.oidc_external_id_claim)
    username = _claim(claims, settings.oidc_username_claim)
    if external_id is None or username is None:
        metrics.login_failures.labels("oidc", "missing_claims").inc()
        raise SignInRefused(
            f"The identity provider did not say {settings.oidc_external_id_claim!r} and "
            f"{settings.oidc_username_claim!r} for this person"
        )
    accounts = AccountRepository(session)
    user = await accounts.by_external_id(external_id)
    if user is None:
        user = await accounts.by_username(username)
        if user is not None:
            if user.external_id is not None:
                metrics.login_failures.labels("oidc", "username_taken").inc()
                raise SignInRefused("This username belongs to another person of the identity provider")
            user.external_id = external_id
    if user is None:
        if not settings.oidc_create_users:
            metrics.login_failures.labels("oidc", "unknown_user").inc()
            raise SignInRefused("There is no account for you here yet; ask your school's administrator")
        user = await _create_account(session, settings, claims, external_id, username)
    if not user.is_active:
        metrics.login_failures.labels("oidc", "inactive").inc()
        raise SignInRefused("This account is deactivated")
    display_name = _claim(claims, settings.oidc_display_name_claim)
    if display_name:
        user.display_name = display_name[:100]
    user.last_login_at = utcnow()
    await session.flush()
    return user


async def _create_account(
    session: AsyncSession, settings: Settings, claims: dict[str, Any], external_id: str, username: str
) -> User:
    role = mapped_role(settings, claims)
    school_id = None
    if role in SCHOOL_ROLES:
        school_value = _claim(claims, settings.oidc_school_claim)
        school = (
            await AccountRepository(session).school_by_code_or_name(school_value) if school_value else None
        )
        if school is None:
            metrics.login_failures.labels("oidc", "unknown_school").inc()
            raise SignInRefused(
                f"Your school ({school_value or 'none given'}) is not set up here; ask the district office"
            )
        school_id = school.id
    user = User(
        username=username[:64],
        display_name=(_claim(claims, settings.oidc_display_name_claim) or username)[:100],
        password_hash=NO_PASSWORD,
        role=role,
        school_id=school_id,
        external_id=external_id,
    )
    AccountRepository(session).add(user)
    await session.flush()
    logger.info("account %s created at first sign-in through the identity provider", user.id)
    return user
