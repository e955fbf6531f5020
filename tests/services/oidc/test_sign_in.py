"""Single sign-on against a real OpenID provider (npm's oidc-provider, run by Node): the whole code
flow with PKCE through its login form, account mapping, and each forged or replayed answer refused."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from services.app import create_app
from services.context import AppContext
from services.oidc.client import InvalidIdToken, OidcClient
from services.settings import Settings
from storage.models.identity import Role
from tests import factories
from tests.oidc.harness import Provider, client_config, sign_in_at_provider, start_provider

pytestmark = pytest.mark.anyio

BASE_URL = "http://testserver"
CALLBACK = f"{BASE_URL}/auth/oidc/callback"
SECRET = "jiaoyun-client-secret"
OTHER_SECRET = "other-app-secret"
# login at the provider (= sub, the external id) → claims; usernames differ from the external ids.
PEOPLE: dict[str, dict[str, Any]] = {
    "u-1001": {
        "preferred_username": "wang.laoshi",
        "name": "王老师",
        "school": "SSO01",
        "groups": ["teachers"],
    },
    "u-1002": {"preferred_username": "zhao.jiaoyan", "name": "赵教研", "groups": ["leads"]},
    "u-1003": {"preferred_username": "li.imported", "name": "李老师（改名）", "school": "SSO01"},
    "u-1004": {"preferred_username": "nobody", "name": "无校", "school": "不存在的学校"},
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    running = start_provider(
        tmp_path_factory.mktemp("oidc"),
        PEOPLE,
        [client_config("jiaoyun", SECRET, BASE_URL), client_config("other-app", OTHER_SECRET, BASE_URL)],
    )
    try:
        yield running
    finally:
        running.stop()


def sso_settings(settings: Settings, provider: Provider, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": "jiaoyun",
            "oidc_client_secret": SecretStr(SECRET),
            "oidc_role_map": "teachers=teacher,leads=research_lead",
            **overrides,
        }
    )


@dataclasses.dataclass
class Sso:
    context: AppContext
    app_client: httpx.AsyncClient
    browser: httpx.Client  # the person's browser at the provider

    async def sign_in(self, login: str) -> httpx.Response:
        """Start at our site, sign in at the provider, come back: our callback's answer."""
        started = await self.app_client.get("/auth/oidc/login", params={"next": "/mine"})
        assert started.status_code == 303, started.text
        back = await asyncio.to_thread(
            sign_in_at_provider, self.browser, started.headers["location"], login, CALLBACK
        )
        return await self.app_client.get(back.removeprefix(BASE_URL))


@pytest.fixture
async def sso(context: AppContext, provider: Provider) -> AsyncIterator[Sso]:
    settings = sso_settings(context.settings, provider)
    async with context.sessionmaker() as session:
        await factories.make_school(session, name="单点登录实验小学", code="SSO01")
        await session.commit()
    with_sso = dataclasses.replace(context, settings=settings, oidc=OidcClient.from_settings(settings))
    transport = httpx.ASGITransport(app=create_app(context=with_sso))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as app_client:
            with httpx.Client(timeout=10) as browser:
                yield Sso(with_sso, app_client, browser)
    finally:
        assert with_sso.oidc is not None
        await with_sso.oidc.close()


async def test_a_teacher_signs_in_with_the_mapped_school_and_role(sso: Sso) -> None:
    answer = await sso.sign_in("u-1001")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/mine"
    me = (await sso.app_client.get("/api/v1/me")).json()
    assert (me["username"], me["display_name"], me["role"]) == ("wang.laoshi", "王老师", "teacher")
    school = (await sso.app_client.get(f"/api/v1/schools/{me['school_id']}")).json()
    assert school["code"] == "SSO01"
    # Signing in again is the same account, not a second one.
    sso.app_client.cookies.clear()
    assert (await sso.sign_in("u-1001")).status_code == 303
    assert (await sso.app_client.get("/api/v1/me")).json()["id"] == me["id"]


async def test_roles_map_from_groups_and_people_without_a_school_role_need_no_school(sso: Sso) -> None:
    assert (await sso.sign_in("u-1002")).status_code == 303
    me = (await sso.app_client.get("/api/v1/me")).json()
    assert (me["role"], me["school_id"]) == ("research_lead", None)


async def test_an_account_imported_first_is_the_one_signed_in(sso: Sso) -> None:
    async with sso.context.sessionmaker() as session:
        school = await factories.make_school(session)
        imported = await factories.make_user(session, Role.teacher, school, username="Li.Imported")
        await session.commit()
    assert (await sso.sign_in("u-1003")).status_code == 303
    me = (await sso.app_client.get("/api/v1/me")).json()
    # Matched by username (any case), kept its role and school, took the provider's name.
    assert (me["id"], me["role"], me["school_id"]) == (str(imported.id), "teacher", str(school.id))
    assert me["display_name"] == "李老师（改名）"
    # Its password still works: the same account either way.
    assert (
        await sso.app_client.post(
            "/api/v1/auth/token", data={"username": "li.imported", "password": factories.DEFAULT_PASSWORD}
        )
    ).status_code == 200


async def test_unknown_schools_and_unknown_people_are_refused(sso: Sso, provider: Provider) -> None:
    refused = await sso.sign_in("u-1004")
    assert refused.status_code == 403
    assert "不存在的学校" in refused.text
    sso.context.settings.oidc_create_users = False
    sso.browser.cookies.clear()
    closed = await sso.sign_in("u-1001")
    assert closed.status_code == 403
    assert (await sso.app_client.get("/api/v1/me")).status_code == 401


async def test_a_replayed_callback_is_refused(sso: Sso) -> None:
    started = await sso.app_client.get("/auth/oidc/login")
    back = await asyncio.to_thread(
        sign_in_at_provider, sso.browser, started.headers["location"], "u-1001", CALLBACK
    )
    assert (await sso.app_client.get(back.removeprefix(BASE_URL))).status_code == 303
    session_cookie = sso.app_client.cookies.get("jiaoyun_session")
    sso.app_client.cookies.clear()
    # The same state and code again, with the state cookie an attacker would have copied.
    replay = await sso.app_client.get(
        back.removeprefix(BASE_URL),
        headers={"Cookie": f"jiaoyun_oidc_state={parse_qs(urlsplit(back).query)['state'][0]}"},
    )
    assert replay.status_code == 403
    assert "jiaoyun_session" not in replay.cookies
    assert session_cookie


async def test_a_state_started_in_another_browser_is_refused(sso: Sso) -> None:
    started = await sso.app_client.get("/auth/oidc/login")
    back = await asyncio.to_thread(
        sign_in_at_provider, sso.browser, started.headers["location"], "u-1001", CALLBACK
    )
    sso.app_client.cookies.clear()  # the victim's browser never started this sign-in
    answer = await sso.app_client.get(back.removeprefix(BASE_URL))
    assert answer.status_code == 403
    assert (await sso.app_client.get("/api/v1/me")).status_code == 401


async def _real_tokens(provider: Provider, settings: Settings, client_id: str, secret: str) -> dict[str, Any]:
    """An ID token and access token the provider really issued to this client, with nonce "n-1"."""
    client_settings = settings.model_copy(
        update={"oidc_client_id": client_id, "oidc_client_secret": SecretStr(secret)}
    )
    client = OidcClient.from_settings(client_settings)
    try:
        url = await client.authorization_url(state="s-1", nonce="n-1", code_verifier="v" * 64)
        with httpx.Client(timeout=10) as browser:
            back = await asyncio.to_thread(sign_in_at_provider, browser, url, "u-1001", CALLBACK)
        code = parse_qs(urlsplit(back).query)["code"][0]
        return await client.exchange_code(code, "v" * 64)
    finally:
        await client.close()


async def test_forged_expired_and_misaddressed_id_tokens_are_refused(sso: Sso, provider: Provider) -> None:
    client = sso.context.oidc
    assert client is not None
    mine = await _real_tokens(provider, sso.context.settings, "jiaoyun", SECRET)
    claims = await client.validate_id_token(mine["id_token"], nonce="n-1", access_token=mine["access_token"])
    assert claims["aud"] == "jiaoyun"

    # Issued by the same provider, but to another application: wrong audience.
    theirs = await _real_tokens(provider, sso.context.settings, "other-app", OTHER_SECRET)
    with pytest.raises(InvalidIdToken, match="aud"):
        await client.validate_id_token(theirs["id_token"], nonce="n-1", access_token=theirs["access_token"])
    # Presented after it expired.
    later = datetime.now(UTC) + timedelta(hours=3)
    with pytest.raises(InvalidIdToken, match=r"xpired|exp"):
        await client.validate_id_token(mine["id_token"], nonce="n-1", access_token=None, now=later)
    # Another nonce than the one this sign-in sent.
    with pytest.raises(InvalidIdToken, match="nonce"):
        await client.validate_id_token(mine["id_token"], nonce="n-2", access_token=None)
    # The signature altered, and the same claims signed by a key that merely names the provider's.
    header, payload, signature = mine["id_token"].split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    with pytest.raises(InvalidIdToken, match="signature"):
        await client.validate_id_token(tampered, nonce="n-1", access_token=None)
    impostor = RSAKey.generate_key(2048, parameters={"kid": provider.signing_key["kid"]})
    forged_claims = dict(claims) | {"sub": "ext-admin", "exp": int(later.timestamp())}
    forged = jwt.encode({"alg": "RS256", "kid": provider.signing_key["kid"]}, forged_claims, impostor)
    with pytest.raises(InvalidIdToken, match="signature"):
        await client.validate_id_token(forged, nonce="n-1", access_token=None)


async def test_passwords_can_be_turned_off_for_all_but_district_admins(sso: Sso) -> None:
    sso.context.settings.local_passwords = False
    async with sso.context.sessionmaker() as session:
        school = await factories.make_school(session)
        teacher = await factories.make_user(session, Role.teacher, school)
        admin = await factories.make_user(session, Role.district_admin)
        await session.commit()

    async def password_sign_in(username: str) -> httpx.Response:
        return await sso.app_client.post(
            "/api/v1/auth/token", data={"username": username, "password": factories.DEFAULT_PASSWORD}
        )

    refused = await password_sign_in(teacher.username)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "password_sign_in_off"
    assert (await password_sign_in(admin.username)).status_code == 200
    page = await sso.app_client.get("/login")
    assert "统一身份认证登录" in page.text and "密码登录仅限区管理员" in page.text


async def test_signing_out_everywhere_ends_our_session_and_goes_to_the_provider(
    sso: Sso, provider: Provider
) -> None:
    assert (await sso.sign_in("u-1001")).status_code == 303
    csrf = sso.app_client.cookies["jiaoyun_csrf"]
    session_token = sso.app_client.cookies["jiaoyun_session"]
    out = await sso.app_client.post("/auth/oidc/logout", data={"csrf_token": csrf})
    assert out.status_code == 200
    assert f'href="{provider.issuer}/session/end?client_id=jiaoyun&amp;post_logout_redirect_uri=' in out.text
    cleared = [c for c in out.headers.get_list("set-cookie") if c.startswith("jiaoyun_session=")]
    assert cleared and "Max-Age=0" in cleared[0]
    assert (await sso.app_client.get("/api/v1/me")).status_code == 401
    # The token ended on the server too: a copy of the cookie kept elsewhere is refused.
    copied = {"Authorization": f"Bearer {session_token}"}
    assert (await sso.app_client.get("/api/v1/me", headers=copied)).status_code == 401
