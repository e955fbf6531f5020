"""Finding the people a text @mentions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from services.notifications.service import users_by_username
from storage.models.identity import Role
from tests import stacks
from tests.factories import make_user

pytestmark = pytest.mark.anyio


@contextmanager
def counted_statements(database: stacks.Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def test_mentioned_users_are_found_in_one_query_ignoring_case(database: stacks.Database) -> None:
    async with database.sessionmaker() as session, session.begin():
        wang = await make_user(session, Role.teacher, username="Wang.Fang")
        li = await make_user(session, Role.research_lead, username="li_ming")
        await make_user(session, Role.teacher, username="gone.away", is_active=False)
        names = ["li_ming", "nobody-here", "wang.fang", "GONE.AWAY", "LI_MING"]
        with counted_statements(database) as statements:
            found = await users_by_username(session, names)
        assert found == [li.id, wang.id]  # in the order named, each once; unknown and inactive left out
        assert len(statements) == 1
        with counted_statements(database) as statements:
            assert await users_by_username(session, []) == []
        assert statements == []
