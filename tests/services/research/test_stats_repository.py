"""Research statistics rank, page and total people in the database, not in Python."""

from __future__ import annotations

import pytest

from services.research.stats.repository import Counts, StatsRepository, Window
from services.resources.service import RECORDING_TYPES
from storage.models.identity import Role, Visibility
from tests import stacks
from tests.factories import make_school, make_topic, make_user
from tests.statements import counted_statements

pytestmark = pytest.mark.anyio


async def test_people_are_ranked_paged_and_totalled_by_the_database(database: stacks.Database) -> None:
    async with database.sessionmaker() as session, session.begin():
        school = await make_school(session)
        elsewhere = await make_school(session)
        busiest = await make_user(session, Role.teacher, school, display_name="甲")
        gone_but_busy = await make_user(session, Role.teacher, school, display_name="乙", is_active=False)
        once = await make_user(session, Role.school_admin, school, display_name="丙")
        idle = await make_user(session, Role.teacher, school, display_name="丁")
        await make_user(session, Role.teacher, school, is_active=False)  # gone, and did nothing
        await make_user(session, Role.student, school)  # students are not counted
        other = await make_user(session, Role.teacher, elsewhere)
        for owner, count in ((busiest, 3), (gone_but_busy, 2), (once, 1), (other, 4)):
            for _ in range(count):
                await make_topic(session, owner, title="研讨", body="正文", visibility=Visibility.district)

    async with database.sessionmaker() as session:
        repository = StatsRepository(session)
        window = Window(school.id, None, None)
        pages = []
        for offset in (0, 2, 4):
            with counted_statements(database.engine) as statements:
                page, total = await repository.people_page(window, RECORDING_TYPES, offset=offset, limit=2)
            assert len(statements) == 2  # the page, and the count
            assert total == 4
            pages.append([(person.user.id, person.counts.topics_opened) for person in page])
        assert pages == [[(busiest.id, 3), (gone_but_busy.id, 2)], [(once.id, 1), (idle.id, 0)], []]

        per_school = await repository.per_school(window, RECORDING_TYPES)
        assert list(per_school) == [school.id]
        assert per_school[school.id].people == 4
        assert per_school[school.id].counts == Counts(topics_opened=6)

        district = await repository.per_school(Window(None, None, None), RECORDING_TYPES)
        assert district[elsewhere.id].counts == Counts(topics_opened=4)
        assert district[elsewhere.id].people == 1
