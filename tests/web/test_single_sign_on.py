"""统一身份认证 in Chromium: a teacher goes from our sign-in page through the real OpenID provider's
login form (npm's oidc-provider) and back, lands on the home page as that teacher with the school and
role the claims map to, and signs out of both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.live import ApiProcess, free_ports, run_cli, start_api
from tests.oidc.harness import Provider, client_config, start_provider
from tests.web.browsing import SCREENSHOTS

SECRET = "browser-sso-client-secret"
ADMIN_PASSWORD = "sso-admin-password"


@dataclass
class SsoSite:
    server: ApiProcess
    provider: Provider


@pytest.fixture(scope="module")
def sso_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoSite]:
    workdir = Path(tmp_path_factory.mktemp("sso-site"))
    port = free_ports(1)[0]
    base_url = f"http://127.0.0.1:{port}"
    provider = start_provider(
        workdir,
        {
            "t-3001": {
                "preferred_username": "zhou.laoshi",
                "name": "周老师",
                "school": "SSO-WEB",
                "groups": ["语文组", "teachers"],
            }
        },
        [client_config("jiaoyun-web", SECRET, base_url)],
    )
    env = {
        "JIAOYUN_DATA_DIR": str(workdir / "data"),
        "JIAOYUN_SECRET_KEY": "sso-browser-secret-key",
        "JIAOYUN_PUBLIC_BASE_URL": base_url,
        "JIAOYUN_OIDC_ISSUER": provider.issuer,
        "JIAOYUN_OIDC_CLIENT_ID": "jiaoyun-web",
        "JIAOYUN_OIDC_CLIENT_SECRET": SECRET,
        "JIAOYUN_OIDC_ROLE_MAP": "teachers=teacher,leads=research_lead",
        "JIAOYUN_LOCAL_PASSWORDS": "false",
    }
    try:
        server = start_api(env, workdir, port=port, name="sso-server")
    except BaseException:
        provider.stop()
        raise
    try:
        run_cli(env, workdir, "admin", "create", "--username", "admin", "--password", ADMIN_PASSWORD)
        token = httpx.post(
            f"{base_url}/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        httpx.post(
            f"{base_url}/api/v1/schools",
            json={"name": "统一认证实验学校", "code": "SSO-WEB"},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        yield SsoSite(server, provider)
    finally:
        server.stop()
        provider.stop()


def test_a_teacher_signs_in_through_the_identity_provider_and_out_again(
    browser: Browser, sso_site: SsoSite
) -> None:
    context = browser.new_context(base_url=sso_site.server.base_url, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    expect(page.get_by_text("密码登录仅限区管理员")).to_be_visible()
    page.get_by_role("link", name="统一身份认证登录").click()

    # The provider's own login page, on its own origin.
    page.wait_for_url(f"{sso_site.provider.issuer}/**")
    page.locator("input[name=login]").fill("t-3001")
    page.locator("input[name=password]").fill("whatever-the-provider-checks")
    page.locator("button[type=submit]").click()

    page.wait_for_url(f"{sso_site.server.base_url}/")
    expect(page.locator(".who")).to_contain_text("周老师")
    expect(page.locator(".who .role")).to_contain_text("教师")
    me = page.evaluate("fetch('/api/v1/me').then(r => r.json())")
    assert (me["username"], me["role"]) == ("zhou.laoshi", "teacher")
    school = page.evaluate(f"fetch('/api/v1/schools/{me['school_id']}').then(r => r.json())")
    assert school["code"] == "SSO-WEB"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "embedded-sso-home.png"), full_page=True)

    page.goto("/logout")
    page.get_by_role("button", name="同时退出统一身份认证").click()
    # Our session is over; the provider's end-session page is offered, and reached.
    expect(page.get_by_role("heading", name="已退出教云")).to_be_visible()
    cookies = {cookie["name"] for cookie in context.cookies(sso_site.server.base_url)}
    assert "jiaoyun_session" not in cookies
    page.get_by_role("link", name="退出统一身份认证").click()
    page.wait_for_url(f"{sso_site.provider.issuer}/session/end**")
    context.close()
