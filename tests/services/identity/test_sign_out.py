"""Signing out ends the token on the server; signing out everywhere ends every token of the user."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from services.context import AppContext
from services.identity.browser import SESSION_COOKIE
from services.identity.repository import RevokedTokenRepository
from services.identity.tokens import ALGORITHM
from services.maintenance.service import forget_expired_records_if_due
from storage.database import utcnow
from storage.models.identity import RevokedToken, Role
from tests.factories import make_user, token_for
from tests.services.web.browsers import form_token, signed_in

pytestmark = pytest.mark.anyio


async def _me(client: httpx.AsyncClient, auth: dict[str, str]) -> int:
    return (await client.get("/api/v1/me", headers=auth)).status_code


async def test_signing_out_ends_that_token_only_and_everywhere_ends_them_all(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.teacher)
    laptop, phone = await token_for(client, user), await token_for(client, user)

    assert (await client.post("/api/v1/auth/logout", headers=laptop)).status_code == 204
    assert await _me(client, laptop) == 401  # a copy of the signed-out token is useless
    assert await _me(client, phone) == 200
    assert (await client.post("/api/v1/auth/logout", headers=laptop)).status_code == 401

    tablet = await token_for(client, user)
    assert (await client.post("/api/v1/auth/logout-everywhere", headers=phone)).status_code == 204
    assert await _me(client, phone) == 401 and await _me(client, tablet) == 401
    assert await _me(client, await token_for(client, user)) == 200  # signing in again works


async def test_a_token_from_before_token_ids_signs_out_every_session(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.teacher)
    now = utcnow()
    claims = {"sub": str(user.id), "ver": 0, "iat": now, "exp": now + timedelta(hours=1), "typ": "access"}
    old = {
        "Authorization": "Bearer "
        + jwt.encode(claims, context.settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    }
    current = await token_for(client, user)
    assert await _me(client, old) == 200
    assert (await client.post("/api/v1/auth/logout", headers=old)).status_code == 204
    assert await _me(client, old) == 401 and await _me(client, current) == 401


async def test_revocations_are_forgotten_once_the_token_has_expired(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.teacher)
    signed_out = await client.post("/api/v1/auth/logout", headers=await token_for(client, user))
    assert signed_out.status_code == 204
    async with context.sessionmaker() as session, session.begin():
        await RevokedTokenRepository(session).revoke("stale", utcnow() - timedelta(seconds=1))

    await forget_expired_records_if_due(context)

    async with context.sessionmaker() as session:
        remaining = await session.scalar(select(func.count()).select_from(RevokedToken))
        assert remaining == 1  # the live revocation stays, the expired one is gone


async def test_the_sign_out_page_ends_the_session_token_or_every_one(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.teacher)
    elsewhere = await token_for(client, user)
    async with signed_in(context, user) as page:
        stolen = {"Authorization": f"Bearer {page.cookies[SESSION_COOKIE]}"}
        confirm = await page.get("/logout")
        assert "退出所有设备" in confirm.text
        assert (await page.post("/logout", data={"csrf_token": form_token(confirm)})).status_code == 303
    assert await _me(client, stolen) == 401
    assert await _me(client, elsewhere) == 200

    async with signed_in(context, user) as page:
        confirm = await page.get("/logout")
        response = await page.post("/logout", data={"csrf_token": form_token(confirm), "everywhere": "true"})
        assert response.status_code == 303
    assert await _me(client, elsewhere) == 401


async def test_search_refuses_a_signed_out_token_on_the_next_request(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    """Search reads the caller without a transaction of its own (a read-only route), and still reads
    it on every request: nothing of the token is kept between requests."""
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.student)
    auth = await token_for(client, user)
    assert (await client.get("/api/v1/search", params={"q": "分数"}, headers=auth)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=auth)).status_code == 204
    assert (await client.get("/api/v1/search", params={"q": "分数"}, headers=auth)).status_code == 401
    assert (await client.get("/api/v1/search/suggest", params={"q": "fen"}, headers=auth)).status_code == 401
