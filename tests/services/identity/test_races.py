"""Concurrent requests that used to slip past a check-then-write: duplicates, guesses."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from services.context import AppContext
from storage.models.identity import Role
from tests.factories import make_user, token_for

pytestmark = pytest.mark.anyio

RACERS = 8


async def test_concurrent_duplicate_creates_give_one_201_and_409s(
    committing_client: httpx.AsyncClient, committing_context: AppContext
) -> None:
    async with committing_context.sessionmaker() as session, session.begin():
        admin = await make_user(session, Role.district_admin)
    auth = await token_for(committing_client, admin)

    async def create_school(number: int) -> int:
        body = {"name": "金水区同名小学", "code": f"T{number}"}
        return (await committing_client.post("/api/v1/schools", json=body, headers=auth)).status_code

    async def create_user(number: int) -> int:
        # The same name in different case: one account, as far as sign-in is concerned.
        username = "Race.Winner" if number % 2 else "race.winner"
        body = {
            "username": username,
            "display_name": "某某",
            "password": "long-enough",
            "role": "research_lead",
        }
        return (await committing_client.post("/api/v1/users", json=body, headers=auth)).status_code

    for create in (create_school, create_user):
        statuses = Counter(await asyncio.gather(*(create(number) for number in range(RACERS))))
        assert statuses == {201: 1, 409: RACERS - 1}, (create.__name__, statuses)


async def test_parallel_guesses_never_exceed_the_limit(
    committing_client: httpx.AsyncClient, committing_context: AppContext
) -> None:
    """Every guess is counted before any password is checked, so at most the limit are tried."""
    async with committing_context.sessionmaker() as session, session.begin():
        user = await make_user(session, Role.research_lead)
    limit = committing_context.settings.login_max_failures

    async def guess(number: int) -> int:
        data = {"username": user.username, "password": f"guess-{number}"}
        return (await committing_client.post("/api/v1/auth/token", data=data)).status_code

    statuses = Counter(await asyncio.gather(*(guess(number) for number in range(RACERS * 2))))
    assert statuses == {401: limit, 429: RACERS * 2 - limit}, statuses
