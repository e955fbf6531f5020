"""Finding the people a text @mentions."""

from __future__ import annotations

import pytest

from services.notifications.service import users_by_username
from storage.models.identity import Role
from tests import stacks
from tests.factories import make_user
from tests.statements import counted_statements

pytestmark = pytest.mark.anyio


async def test_mentioned_users_are_found_in_one_query_ignoring_case(database: stacks.Database) -> None:
    async with database.sessionmaker() as session, session.begin():
        wang = await make_user(session, Role.teacher, username="Wang.Fang")
        li = await make_user(session, Role.research_lead, username="li_ming")
        await make_user(session, Role.teacher, username="gone.away", is_active=False)
        names = ["li_ming", "nobody-here", "wang.fang", "GONE.AWAY", "LI_MING"]
        with counted_statements(database.engine) as statements:
            found = await users_by_username(session, names)
        assert found == [li.id, wang.id]  # in the order named, each once; unknown and inactive left out
        assert len(statements) == 1
        with counted_statements(database.engine) as statements:
            assert await users_by_username(session, []) == []
        assert statements == []
