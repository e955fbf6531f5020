"""@mention completion offers only people who could read what is being written, found literally."""

from __future__ import annotations

import httpx
import pytest

from services.context import AppContext
from storage.models.identity import Role, Visibility
from tests.factories import make_resource, make_school, make_topic, make_user, token_for

pytestmark = pytest.mark.anyio


async def _usernames(client: httpx.AsyncClient, auth: dict[str, str], **params: str) -> list[str]:
    response = await client.get("/api/v1/users/mentionable", params={"limit": "20", **params}, headers=auth)
    assert response.status_code == 200, response.text
    return [person["username"] for person in response.json()]


async def test_completion_is_scoped_to_the_readers_of_the_topic_or_lesson(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    async with context.sessionmaker() as session, session.begin():
        school, other_school = await make_school(session), await make_school(session)
        teacher = await make_user(session, Role.teacher, school, username="wang.teacher")
        await make_user(session, Role.teacher, school, username="wang.colleague")
        await make_user(session, Role.student, school, username="wang.pupil")
        await make_user(session, Role.teacher, other_school, username="wang.outsider")
        await make_user(session, Role.student, other_school, username="wang.faraway")
        await make_user(session, Role.research_lead, username="wang.lead")
        await make_user(session, Role.teacher, school, username="wang.gone", is_active=False)
        outsider = await make_user(session, Role.teacher, other_school, username="li.outsider")
        school_topic = await make_topic(session, teacher, visibility=Visibility.school)
        district_topic = await make_topic(session, teacher, visibility=Visibility.district)
        foreign_topic = await make_topic(session, outsider, visibility=Visibility.school)
        lesson = await make_resource(session, teacher, visibility=Visibility.school)
    auth = await token_for(client, teacher)
    own_school = ["wang.colleague", "wang.lead", "wang.pupil", "wang.teacher"]
    everyone = sorted([*own_school, "wang.faraway", "wang.outsider"])

    assert await _usernames(client, auth, q="wang", topic_id=str(school_topic.id)) == own_school
    assert await _usernames(client, auth, q="wang", resource_id=str(lesson.id)) == own_school
    assert await _usernames(client, auth, q="wang", visibility="school") == own_school
    assert await _usernames(client, auth, q="wang", topic_id=str(district_topic.id)) == everyone
    assert await _usernames(client, auth, q="wang", visibility="district") == everyone

    # A topic one cannot read says nothing, not even whether it exists.
    hidden = await client.get(
        "/api/v1/users/mentionable", params={"q": "wang", "topic_id": str(foreign_topic.id)}, headers=auth
    )
    assert hidden.status_code == 404
    # Without saying where the mention goes, or with one letter, nothing is listed.
    one_letter = [{"q": "w", "visibility": "district"}, {"q": " w ", "visibility": "district"}]
    for params in [{"q": "wang"}, *one_letter]:
        refused = await client.get("/api/v1/users/mentionable", params=params, headers=auth)
        assert refused.status_code == 422, (params, refused.text)


async def test_wildcards_are_characters_not_patterns(client: httpx.AsyncClient, context: AppContext) -> None:
    async with context.sessionmaker() as session, session.begin():
        school = await make_school(session)
        teacher = await make_user(session, Role.teacher, school, username="zhao_ming")
        await make_user(session, Role.teacher, school, username="zhaoxming")
        await make_user(session, Role.teacher, school, username="qian.li", display_name="钱老师 100%")
    auth = await token_for(client, teacher)
    assert await _usernames(client, auth, q="o_m", visibility="district") == ["zhao_ming"]
    assert await _usernames(client, auth, q="__", visibility="district") == []
    assert await _usernames(client, auth, q="0%", visibility="district") == ["qian.li"]
    assert await _usernames(client, auth, q="%%", visibility="district") == []
    # The administrators' user list shares the rule.
    async with context.sessionmaker() as session, session.begin():
        admin = await make_user(session, Role.district_admin)
    listed = await client.get("/api/v1/users", params={"q": "_"}, headers=await token_for(client, admin))
    assert [user["username"] for user in listed.json()["items"]] == ["zhao_ming"]
