"""The topic-thread rules in services.authz, asserted for every role against topics of each kind."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from services import authz
from services.authz import Principal
from services.errors import Forbidden, NotFound
from storage.models.identity import PublicationStatus, Role, Visibility

SCHOOL_A = uuid.uuid4()
SCHOOL_B = uuid.uuid4()
AUTHOR = Principal(uuid.uuid4(), Role.teacher, SCHOOL_A)
ASKERS: dict[str, Principal | None] = {
    "guest": None,
    "author": AUTHOR,
    "student": Principal(uuid.uuid4(), Role.student, SCHOOL_A),
    "teacher": Principal(uuid.uuid4(), Role.teacher, SCHOOL_A),
    "outsider": Principal(uuid.uuid4(), Role.teacher, SCHOOL_B),
    "research_lead": Principal(uuid.uuid4(), Role.research_lead, None),
    "school_admin": Principal(uuid.uuid4(), Role.school_admin, SCHOOL_A),
    "other_admin": Principal(uuid.uuid4(), Role.school_admin, SCHOOL_B),
    "district_admin": Principal(uuid.uuid4(), Role.district_admin, None),
}


@dataclass(frozen=True)
class TopicLike:
    owner_id: uuid.UUID
    school_id: uuid.UUID | None
    visibility: Visibility
    status: PublicationStatus = PublicationStatus.published


SCHOOL_TOPIC = TopicLike(AUTHOR.user_id, SCHOOL_A, Visibility.school)
DISTRICT_TOPIC = TopicLike(AUTHOR.user_id, SCHOOL_A, Visibility.district)
EVERYONE = set(ASKERS)
READS_SCHOOL_TOPIC = EVERYONE - {"guest", "outsider", "other_admin"}


def who(rule: Callable[[Principal | None, TopicLike], bool], topic: TopicLike) -> set[str]:
    return {name for name, principal in ASKERS.items() if rule(principal, topic)}


def test_opening_topics() -> None:
    allowed = {name for name, principal in ASKERS.items() if principal and authz.can_open_topic(principal)}
    assert allowed == EVERYONE - {"guest", "student"}


@pytest.mark.parametrize(
    ("topic", "moderators"),
    [
        (SCHOOL_TOPIC, {"research_lead", "school_admin", "district_admin"}),
        # Another school's admin reads a district topic of school A, but it is not theirs to moderate.
        (DISTRICT_TOPIC, {"research_lead", "school_admin", "district_admin"}),
        (
            TopicLike(AUTHOR.user_id, SCHOOL_B, Visibility.district),
            {"research_lead", "other_admin", "district_admin"},
        ),
        (TopicLike(AUTHOR.user_id, None, Visibility.public), {"research_lead", "district_admin"}),
    ],
)
def test_moderators(topic: TopicLike, moderators: set[str]) -> None:
    assert who(authz.can_moderate, topic) == moderators


@pytest.mark.parametrize("topic", [SCHOOL_TOPIC, DISTRICT_TOPIC])
def test_editing_and_summing_up(topic: TopicLike) -> None:
    assert who(authz.can_edit_topic, topic) == {"author", "district_admin"}
    assert who(authz.can_summarize, topic) == {"author", "research_lead", "district_admin"}


def test_posts_are_edited_by_their_author_and_removed_by_moderators_too() -> None:
    for name, author in ASKERS.items():
        if author is None:
            continue
        can_edit = {
            asker
            for asker, principal in ASKERS.items()
            if authz.can_edit_post(principal, SCHOOL_TOPIC, author.user_id)
        }
        can_delete = {
            asker
            for asker, principal in ASKERS.items()
            if authz.can_delete_post(principal, SCHOOL_TOPIC, author.user_id)
        }
        own = {name} & READS_SCHOOL_TOPIC
        assert can_edit == own, name
        assert can_delete == own | {"research_lead", "school_admin", "district_admin"}, name


def test_require_hides_what_cannot_be_read() -> None:
    with pytest.raises(NotFound):
        authz.require(ASKERS["outsider"], SCHOOL_TOPIC, True, "x")
    with pytest.raises(Forbidden):
        authz.require(ASKERS["student"], SCHOOL_TOPIC, False, "x")
    authz.require(ASKERS["student"], SCHOOL_TOPIC, True, "x")
