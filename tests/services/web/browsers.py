"""Browsers for page tests: an httpx client of its own per person, signed in through the login form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from services.app import create_app
from services.context import AppContext
from services.identity.browser import CSRF_COOKIE, CSRF_HEADER
from storage.models.identity import User
from tests.factories import DEFAULT_PASSWORD

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


@asynccontextmanager
async def browser(context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie jar of its own, like a separate browser, on the same app and backends."""
    transport = httpx.ASGITransport(app=create_app(context=context))
    # Browsers ask for HTML when they navigate; fetch() from the pages asks for JSON.
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"Accept": BROWSER_ACCEPT}
    ) as client:
        yield client


def form_token(page: httpx.Response) -> str:
    match = FORM_TOKEN.search(page.text)
    assert match, "the page has no CSRF form field"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, user: User, password: str = DEFAULT_PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    assert page.status_code == 200, page.text
    response = await client.post(
        "/login",
        data={"username": user.username, "password": password, "csrf_token": form_token(page), "next": "/"},
    )
    assert response.status_code == 303, response.text
    return response


@asynccontextmanager
async def signed_in(context: AppContext, user: User) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(context) as client:
        await sign_in(client, user)
        yield client


def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """What the pages' scripts send with an unsafe API request."""
    return {CSRF_HEADER: client.cookies[CSRF_COOKIE]}
