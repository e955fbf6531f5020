from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import jwt
import pytest

from services.app import create_app
from services.context import AppContext
from services.identity.tokens import ALGORITHM
from storage.database import utcnow
from storage.models.identity import Role
from tests.factories import DEFAULT_PASSWORD, make_school, make_user, token_for

pytestmark = pytest.mark.anyio


async def test_password_flow_and_me(client: httpx.AsyncClient, context: AppContext) -> None:
    async with context.sessionmaker() as session, session.begin():
        school = await make_school(session)
        teacher = await make_user(session, Role.teacher, school, display_name="李老师")
    response = await client.post(
        "/api/v1/auth/token", data={"username": teacher.username.upper(), "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == context.settings.access_token_ttl_minutes * 60

    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["display_name"] == "李老师"
    assert me.json()["school_id"] == str(school.id)
    assert "password_hash" not in me.json()


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.district_admin)
    wrong = await client.post("/api/v1/auth/token", data={"username": user.username, "password": "nope-nope"})
    unknown = await client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope-nope"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"] == {
            "code": "invalid_credentials",
            "message": "Incorrect username or password",
            "details": None,
        }
        assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_bad_and_expired_tokens_get_401(client: httpx.AsyncClient, context: AppContext) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.district_admin)
    secret = context.settings.secret_key.get_secret_value()
    expired = jwt.encode(
        {"sub": str(user.id), "exp": utcnow() - timedelta(minutes=1), "typ": "access"},
        secret,
        algorithm=ALGORITHM,
    )
    forged = jwt.encode(
        {"sub": str(user.id), "exp": utcnow() + timedelta(hours=1), "typ": "access"},
        "x" * 32,
        algorithm=ALGORITHM,
    )
    assert (await client.get("/api/v1/me")).status_code == 401
    for token in (expired, forged, "garbage"):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


async def test_deactivated_users_lose_access(client: httpx.AsyncClient, context: AppContext) -> None:
    async with context.sessionmaker() as session, session.begin():
        admin = await make_user(session, Role.district_admin)
        teacher = await make_user(session, Role.research_lead)
    admin_auth = await token_for(client, admin)
    teacher_auth = await token_for(client, teacher)
    response = await client.patch(
        f"/api/v1/users/{teacher.id}", json={"is_active": False}, headers=admin_auth
    )
    assert response.status_code == 200, response.text
    assert (await client.get("/api/v1/me", headers=teacher_auth)).status_code == 401
    login = await client.post(
        "/api/v1/auth/token", data={"username": teacher.username, "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 401


async def test_login_is_rate_limited_per_username_and_address(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.district_admin)
        other = await make_user(session, Role.district_admin)
    for _ in range(context.settings.login_max_failures):
        response = await client.post(
            "/api/v1/auth/token", data={"username": user.username, "password": "wrong-guess"}
        )
        assert response.status_code == 401
    blocked = await client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_attempts"
    assert int(blocked.headers["retry-after"]) > 0
    # Another account from the same address is unaffected.
    assert (
        await client.post(
            "/api/v1/auth/token", data={"username": other.username, "password": DEFAULT_PASSWORD}
        )
    ).status_code == 200


@asynccontextmanager
async def client_at(context: AppContext, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from this address."""
    transport = httpx.ASGITransport(app=create_app(context=context), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def sign_in(http: httpx.AsyncClient, username: str, password: str) -> int:
    response = await http.post("/api/v1/auth/token", data={"username": username, "password": password})
    return response.status_code


async def test_one_address_guessing_does_not_lock_the_account_elsewhere(context: AppContext) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.teacher, await make_school(session))
    limit = context.settings.login_max_failures
    async with client_at(context, "10.0.0.1") as guesser, client_at(context, "10.0.0.2") as owner:
        assert [await sign_in(guesser, user.username, "wrong-guess") for _ in range(limit)] == [401] * limit
        assert await sign_in(guesser, user.username, DEFAULT_PASSWORD) == 429
        # The same account from another address: its own count, so its owner still signs in.
        assert await sign_in(owner, user.username, "typo-typo") == 401
        assert await sign_in(owner, user.username, DEFAULT_PASSWORD) == 200
        assert await sign_in(guesser, user.username.upper(), DEFAULT_PASSWORD) == 429


async def test_one_address_trying_many_accounts_is_limited(context: AppContext) -> None:
    settings = context.settings.model_copy(update={"login_max_failures_per_address": 6})
    limited = dataclasses.replace(context, settings=settings)
    async with limited.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.research_lead)
    async with client_at(limited, "10.0.0.3") as sprayer, client_at(limited, "10.0.0.4") as neighbour:
        # A successful sign-in does not count against the address.
        assert await sign_in(sprayer, user.username, DEFAULT_PASSWORD) == 200
        statuses = [await sign_in(sprayer, f"someone{number}", "password1") for number in range(8)]
        assert statuses == [401] * 6 + [429] * 2
        assert await sign_in(sprayer, user.username, DEFAULT_PASSWORD) == 429
        assert await sign_in(neighbour, user.username, DEFAULT_PASSWORD) == 200


async def test_overlong_usernames_and_passwords_are_422(client: httpx.AsyncClient) -> None:
    # Usernames are at most 64 characters; a 500-character one once overflowed the rate-limit key.
    for username, password in (("u" * 500, "whatever-it-is"), ("someone", "p" * 10_000)):
        response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 422, response.text
    assert await sign_in(client, "u" * 64, "whatever-it-is") == 401


async def test_change_own_password_ends_every_earlier_token(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.district_admin)
    auth = await token_for(client, user)
    elsewhere = await token_for(client, user)  # another device, or a thief
    wrong = await client.post(
        "/api/v1/me/password",
        json={"current_password": "not-it", "new_password": "brand-new-pass"},
        headers=auth,
    )
    assert wrong.status_code == 403
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 200
    ok = await client.post(
        "/api/v1/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "brand-new-pass"},
        headers=auth,
    )
    assert ok.status_code == 204
    for old in (auth, elsewhere):
        assert (await client.get("/api/v1/me", headers=old)).status_code == 401
    fresh = await token_for(client, user, "brand-new-pass")
    assert (await client.get("/api/v1/me", headers=fresh)).status_code == 200


async def test_guessing_the_current_password_is_rate_limited(
    committing_client: httpx.AsyncClient, committing_context: AppContext
) -> None:
    # Failed attempts are committed on their own while the request's transaction rolls back; the
    # `client` stack's PostgreSQL runs everything in one connection, where that rollback would take
    # them along, so this runs where transactions really commit.
    client, context = committing_client, committing_context
    async with context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.teacher, await make_school(session))
    auth = await token_for(client, user)

    async def change(current: str) -> int:
        body = {"current_password": current, "new_password": "brand-new-pass"}
        return (await client.post("/api/v1/me/password", json=body, headers=auth)).status_code

    limit = context.settings.login_max_failures
    assert [await change(f"guess-{number}") for number in range(limit)] == [403] * limit
    assert await change(DEFAULT_PASSWORD) == 429
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 200


async def test_a_password_reset_or_deactivation_by_an_admin_ends_the_users_tokens(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        school = await make_school(session)
        admin = await make_user(session, Role.school_admin, school)
        teacher = await make_user(session, Role.teacher, school)
    admin_auth = await token_for(client, admin)
    teacher_auth = await token_for(client, teacher)
    rename = await client.patch(
        f"/api/v1/users/{teacher.id}", json={"display_name": "王老师"}, headers=admin_auth
    )
    assert rename.status_code == 200
    assert (await client.get("/api/v1/me", headers=teacher_auth)).status_code == 200

    reset = await client.patch(
        f"/api/v1/users/{teacher.id}", json={"password": "reset-by-admin"}, headers=admin_auth
    )
    assert reset.status_code == 200
    assert (await client.get("/api/v1/me", headers=teacher_auth)).status_code == 401

    teacher_auth = await token_for(client, teacher, "reset-by-admin")
    for change in ({"is_active": False}, {"is_active": True}):
        response = await client.patch(f"/api/v1/users/{teacher.id}", json=change, headers=admin_auth)
        assert response.status_code == 200
    # Active again, but the token from before the deactivation stays dead.
    assert (await client.get("/api/v1/me", headers=teacher_auth)).status_code == 401
    await token_for(client, teacher, "reset-by-admin")


async def test_openapi_declares_the_oauth2_scheme(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert {"OAuth2PasswordBearer": []} in schema["paths"]["/api/v1/me"]["get"]["security"]
