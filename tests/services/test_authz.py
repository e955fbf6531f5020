"""Every role x every visibility x every status x every relation x every action, asserted exhaustively.

The expectations are written out as plain sets, independently of services.authz, and the search
backends are held to the same read rule through search_access.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import pytest

from search.documents import SearchQuery
from search.index import SearchIndex
from services import authz
from services.authz import Action, Principal, can, search_access
from services.errors import Forbidden
from storage.models.identity import PublicationStatus, Role, ShareLink, User, Visibility
from tests.factories import search_document

SCHOOL_A = uuid.uuid4()
SCHOOL_B = uuid.uuid4()

PUB, DRAFT = PublicationStatus.published, PublicationStatus.draft
PRIVATE, SCHOOL, DISTRICT, PUBLIC = (
    Visibility.private,
    Visibility.school,
    Visibility.district,
    Visibility.public,
)
ALL_CELLS = frozenset(itertools.product(Visibility, PublicationStatus))
PUBLISHED = {(visibility, PUB) for visibility in Visibility}
NOT_PRIVATE = {(visibility, status) for visibility, status in ALL_CELLS if visibility != PRIVATE}


@dataclass(frozen=True)
class Thing:
    owner_id: uuid.UUID
    school_id: uuid.UUID | None
    visibility: Visibility
    status: PublicationStatus


# Who asks: (name, role, school). None is a guest without a token.
ASKERS: dict[str, Principal | None] = {
    "guest": None,
    "student": Principal(uuid.uuid4(), Role.student, SCHOOL_A),
    "teacher": Principal(uuid.uuid4(), Role.teacher, SCHOOL_A),
    "research_lead": Principal(uuid.uuid4(), Role.research_lead, None),
    "school_admin": Principal(uuid.uuid4(), Role.school_admin, SCHOOL_A),
    "district_admin": Principal(uuid.uuid4(), Role.district_admin, None),
}
# How the object relates to the asker: owned by them, of their school (school A), of another school.
RELATIONS = ("own", "same_school", "other_school")

# READ[(asker, relation)] = the (visibility, status) cells the asker may read.
READ: dict[tuple[str, str], set[tuple[Visibility, PublicationStatus]]] = {
    ("guest", "same_school"): {(PUBLIC, PUB)},
    ("guest", "other_school"): {(PUBLIC, PUB)},
    ("student", "same_school"): {(PUBLIC, PUB), (DISTRICT, PUB), (SCHOOL, PUB)},
    ("student", "other_school"): {(PUBLIC, PUB), (DISTRICT, PUB)},
    ("teacher", "same_school"): {(PUBLIC, PUB), (DISTRICT, PUB), (SCHOOL, PUB)},
    ("teacher", "other_school"): {(PUBLIC, PUB), (DISTRICT, PUB)},
    ("research_lead", "same_school"): {(PUBLIC, PUB), (DISTRICT, PUB), (SCHOOL, PUB)},
    ("research_lead", "other_school"): {(PUBLIC, PUB), (DISTRICT, PUB), (SCHOOL, PUB)},
    ("school_admin", "same_school"): {(v, s) for v in (PUBLIC, DISTRICT, SCHOOL) for s in PublicationStatus},
    ("school_admin", "other_school"): {(PUBLIC, PUB), (DISTRICT, PUB)},
    # Private is its owner's alone, district admins included.
    ("district_admin", "same_school"): NOT_PRIVATE,
    ("district_admin", "other_school"): NOT_PRIVATE,
}
# What may be changed (update) besides one's own things.
UPDATE: dict[tuple[str, str], set[tuple[Visibility, PublicationStatus]]] = {
    ("school_admin", "same_school"): READ[("school_admin", "same_school")],
    ("district_admin", "same_school"): NOT_PRIVATE,
    ("district_admin", "other_school"): NOT_PRIVATE,
}
# Delete = update, plus research leads taking down published content they can see.
DELETE = {
    **UPDATE,
    ("research_lead", "same_school"): READ[("research_lead", "same_school")],
    ("research_lead", "other_school"): READ[("research_lead", "other_school")],
}
COMMENTERS = {"teacher", "research_lead", "school_admin", "district_admin"}


def expected(asker: str, relation: str, action: Action, cell: tuple[Visibility, PublicationStatus]) -> bool:
    if relation == "own":
        # Owners do anything with their own things, except that students never comment.
        return action != Action.comment or asker in COMMENTERS
    readable = cell in READ[(asker, relation)]
    if action == Action.read:
        return readable
    if action == Action.update:
        return cell in UPDATE.get((asker, relation), set())
    if action == Action.delete:
        return cell in DELETE.get((asker, relation), set())
    return readable and asker in COMMENTERS and cell[1] == PUB


def thing(asker: Principal | None, relation: str, visibility: Visibility, status: PublicationStatus) -> Thing:
    if relation == "own":
        assert asker is not None
        return Thing(asker.user_id, asker.school_id, visibility, status)
    return Thing(uuid.uuid4(), SCHOOL_A if relation == "same_school" else SCHOOL_B, visibility, status)


def cases() -> list[tuple[str, str]]:
    return [
        (name, relation)
        for name in ASKERS
        for relation in RELATIONS
        if not (name == "guest" and relation == "own")
    ]


@pytest.mark.parametrize(("asker", "relation"), cases())
def test_permission_matrix(asker: str, relation: str) -> None:
    principal = ASKERS[asker]
    mismatches = []
    for visibility, status, action in itertools.product(Visibility, PublicationStatus, Action):
        obj = thing(principal, relation, visibility, status)
        want = expected(asker, relation, action, (visibility, status))
        if can(principal, action, obj) != want:
            mismatches.append(f"{action.value} {visibility.value}/{status.value}: expected {want}")
    assert mismatches == []


@pytest.mark.anyio
async def test_search_applies_the_same_read_rule(search_index: SearchIndex) -> None:
    """For every asker, search returns exactly the documents authz lets them read: no more, no fewer."""
    objects: dict[str, Thing] = {}
    documents = []
    for number, (owner_name, relation, visibility, status) in enumerate(
        itertools.product(ASKERS, RELATIONS, Visibility, PublicationStatus)
    ):
        if owner_name == "guest" and relation == "own":
            continue
        obj = thing(ASKERS[owner_name], relation, visibility, status)
        doc_id = f"doc{number}"
        objects[doc_id] = obj
        documents.append(
            search_document(
                id=doc_id,
                title="权限 测试",
                owner_id=str(obj.owner_id),
                school_id=str(obj.school_id) if obj.school_id else None,
                visibility=visibility.value,
                status=status.value,
            )
        )
    await search_index.upsert(documents)
    await search_index.refresh()
    for name, principal in ASKERS.items():
        result = await search_index.search(
            SearchQuery(text="权限", access=search_access(principal), limit=1000, facets=["subject"])
        )
        found = {hit.id for hit in result.hits}
        allowed = {doc_id for doc_id, obj in objects.items() if can(principal, Action.read, obj)}
        assert found == allowed, name
        assert result.total == len(allowed)
        assert sum(bucket.count for bucket in result.facets["subject"]) == len(allowed)


# -- lesson review and research statistics ------------------------------------------------------

LESSON_TEACHER = Principal(uuid.uuid4(), Role.teacher, SCHOOL_A)
COMMENT_AUTHOR = Principal(uuid.uuid4(), Role.teacher, SCHOOL_B)
# A published district-wide lesson of school A, commented on by a teacher of school B.
LESSON = Thing(LESSON_TEACHER.user_id, SCHOOL_A, DISTRICT, PUB)
REVIEWERS: dict[str, Principal | None] = {
    **ASKERS,
    "lesson_teacher": LESSON_TEACHER,
    "comment_author": COMMENT_AUTHOR,
}
# Who may do what with the author's comment on LESSON, written out independently of services.authz.
ON_A_COLLEAGUES_COMMENT = {
    "edit": {"comment_author"},
    "delete": {"comment_author", "lesson_teacher", "research_lead", "school_admin", "district_admin"},
    "resolve": {"comment_author", "lesson_teacher"},
}
SCORERS = {"teacher", "research_lead", "school_admin", "district_admin", "comment_author"}


def test_who_edits_deletes_and_resolves_review_comments_and_scores_rounds() -> None:
    author = COMMENT_AUTHOR.user_id
    for name, principal in REVIEWERS.items():
        allowed = {
            "edit": authz.can_edit_comment(principal, LESSON, author),
            "delete": authz.can_delete_comment(principal, LESSON, author),
            "resolve": authz.can_resolve_comment(principal, LESSON, author),
        }
        assert allowed == {action: name in who for action, who in ON_A_COLLEAGUES_COMMENT.items()}, name
        assert authz.can_score(principal, LESSON) == (name in SCORERS), name


def test_a_comments_author_loses_their_rights_with_the_lesson_out_of_sight() -> None:
    author = COMMENT_AUTHOR.user_id
    for hidden in (
        Thing(LESSON_TEACHER.user_id, SCHOOL_A, DISTRICT, DRAFT),
        Thing(LESSON_TEACHER.user_id, SCHOOL_A, SCHOOL, PUB),
    ):
        assert not authz.can_edit_comment(COMMENT_AUTHOR, hidden, author)
        assert not authz.can_delete_comment(COMMENT_AUTHOR, hidden, author)
        assert not authz.can_resolve_comment(COMMENT_AUTHOR, hidden, author)
        assert not authz.can_score(COMMENT_AUTHOR, hidden)
    # Their own lesson in draft: the teacher settles comments on it but never scores it.
    draft = Thing(LESSON_TEACHER.user_id, SCHOOL_A, DISTRICT, DRAFT)
    assert authz.can_resolve_comment(LESSON_TEACHER, draft, author)
    assert not authz.can_score(LESSON_TEACHER, draft)


def test_research_statistics_scope() -> None:
    for name in ("research_lead", "district_admin"):
        principal = ASKERS[name]
        assert principal is not None
        assert authz.stats_scope(principal, None) is None
        assert authz.stats_scope(principal, SCHOOL_B) == SCHOOL_B
    school_admin = ASKERS["school_admin"]
    assert school_admin is not None
    assert authz.stats_scope(school_admin, None) == SCHOOL_A
    assert authz.stats_scope(school_admin, SCHOOL_A) == SCHOOL_A
    with pytest.raises(Forbidden):
        authz.stats_scope(school_admin, SCHOOL_B)
    for name in ("student", "teacher"):
        principal = ASKERS[name]
        assert principal is not None
        with pytest.raises(Forbidden):
            authz.stats_scope(principal, None)
    with pytest.raises(Forbidden):
        authz.stats_scope(Principal(uuid.uuid4(), Role.school_admin, None), None)


# -- resources and their uploads ----------------------------------------------------------------

UPLOADERS = {"teacher", "research_lead", "school_admin", "district_admin"}


def test_who_uploads_and_whose_uploads_are_whose() -> None:
    for name, principal in ASKERS.items():
        if principal is None:
            continue
        assert authz.can_upload(principal) == (name in UPLOADERS), name
        assert authz.can_use_upload(principal, principal.user_id), name
        # Not even a district administrator continues somebody else's upload.
        assert not authz.can_use_upload(principal, uuid.uuid4()), name


def test_a_share_link_opens_only_its_own_object() -> None:
    resource_id = uuid.uuid4()
    link = ShareLink(object_type="resource", object_id=resource_id)
    assert authz.share_grants(link, "resource", resource_id)
    assert not authz.share_grants(link, "resource", uuid.uuid4())
    assert not authz.share_grants(link, "topic", resource_id)


def test_research_leads_and_district_admins_design_the_observation_framework() -> None:
    designers = {
        name
        for name, principal in ASKERS.items()
        if principal is not None and authz.can_edit_observation_framework(principal)
    }
    assert designers == {"research_lead", "district_admin"}


def test_a_lessons_review_is_for_its_teacher_and_colleagues_not_students_nor_guests() -> None:
    seeing = {name for name, principal in REVIEWERS.items() if authz.can_see_review_scores(principal, LESSON)}
    assert seeing == {
        "lesson_teacher",
        "comment_author",
        "teacher",
        "research_lead",
        "school_admin",
        "district_admin",
    }
    # As with everything else: only where the lesson itself can be read.
    draft = Thing(LESSON_TEACHER.user_id, SCHOOL_A, DISTRICT, DRAFT)
    assert authz.can_see_review_scores(LESSON_TEACHER, draft)
    assert not authz.can_see_review_scores(COMMENT_AUTHOR, draft)
    assert not authz.can_see_review_scores(None, Thing(LESSON_TEACHER.user_id, SCHOOL_A, PUBLIC, PUB))


# -- people, schools and share links ------------------------------------------------------------


def test_who_places_people_in_which_school() -> None:
    for name, principal in ASKERS.items():
        if principal is None:
            continue
        assert authz.can_place_in_school(principal, SCHOOL_A) == (name in {"district_admin", "school_admin"})
        assert authz.can_place_in_school(principal, SCHOOL_B) == (name == "district_admin")


def test_who_updates_a_school_and_which_fields() -> None:
    for name, principal in ASKERS.items():
        if principal is None:
            continue
        own_entry = authz.can_update_school(principal, SCHOOL_A, {"name", "stages"})
        assert own_entry == (name in {"district_admin", "school_admin"}), name
        assert authz.can_update_school(principal, SCHOOL_A, {"code"}) == (name == "district_admin"), name
        assert authz.can_update_school(principal, SCHOOL_B, {"name"}) == (name == "district_admin"), name


def test_users_rename_themselves_and_administrators_keep_their_own_standing() -> None:
    school_admin = ASKERS["school_admin"]
    assert school_admin is not None
    herself = User(id=school_admin.user_id, role=Role.school_admin, school_id=SCHOOL_A)
    teacher = User(id=uuid.uuid4(), role=Role.teacher, school_id=SCHOOL_A)
    elsewhere = User(id=uuid.uuid4(), role=Role.teacher, school_id=SCHOOL_B)
    authz.authorize_user_update(school_admin, herself, {"display_name"})
    authz.authorize_user_update(school_admin, teacher, {"display_name", "password", "is_active", "role"})
    for user, fields in (
        (herself, {"role"}),
        (herself, {"is_active"}),
        (herself, {"password"}),
        (elsewhere, {"display_name"}),
    ):
        with pytest.raises(Forbidden):
            authz.authorize_user_update(school_admin, user, fields)
    student = ASKERS["student"]
    assert student is not None
    myself = User(id=student.user_id, role=Role.student, school_id=SCHOOL_A)
    authz.authorize_user_update(student, myself, {"display_name"})
    with pytest.raises(Forbidden):
        authz.authorize_user_update(student, myself, {"school_id"})


def test_who_revokes_a_share_link() -> None:
    teacher, admin, student = ASKERS["teacher"], ASKERS["school_admin"], ASKERS["student"]
    assert teacher is not None and admin is not None and student is not None
    lesson = Thing(teacher.user_id, SCHOOL_A, SCHOOL, PUB)
    link = ShareLink(object_type="resource", object_id=uuid.uuid4(), created_by_id=teacher.user_id)
    assert authz.can_revoke_share_link(teacher, link, lesson)
    assert authz.can_revoke_share_link(teacher, link, None)  # its creator, even once the object is gone
    assert authz.can_revoke_share_link(admin, link, lesson)  # may change the lesson, so could have shared it
    assert not authz.can_revoke_share_link(admin, link, None)
    assert not authz.can_revoke_share_link(student, link, lesson)


def test_who_shares_and_whose_links_are_honoured() -> None:
    teacher, admin, district = ASKERS["teacher"], ASKERS["school_admin"], ASKERS["district_admin"]
    assert teacher is not None and admin is not None and district is not None
    for visibility in Visibility:
        lesson = Thing(teacher.user_id, SCHOOL_A, visibility, PUB)
        assert authz.can_share(teacher, lesson)
        # Administrators share what they may change, and never a private resource.
        assert authz.can_share(admin, lesson) == (visibility != PRIVATE)
        assert authz.can_share(district, lesson) == (visibility != PRIVATE)
        assert not authz.can_share(None, lesson)
        assert not authz.can_share(ASKERS["student"], lesson)
    assert not authz.can_share(admin, Thing(teacher.user_id, SCHOOL_B, SCHOOL, PUB))

    school_admin = User(id=admin.user_id, role=Role.school_admin, school_id=SCHOOL_A, is_active=True)
    lesson = Thing(teacher.user_id, SCHOOL_A, SCHOOL, PUB)
    assert authz.share_link_honoured(school_admin, lesson)
    assert not authz.share_link_honoured(school_admin, Thing(teacher.user_id, SCHOOL_A, PRIVATE, PUB))
    assert not authz.share_link_honoured(None, lesson)  # its creator is gone
    school_admin.is_active = False
    assert not authz.share_link_honoured(school_admin, lesson)


def test_which_visibility_changes_narrow_the_audience() -> None:
    order = [PRIVATE, SCHOOL, DISTRICT, PUBLIC]
    for before, after in itertools.product(order, order):
        assert authz.audience_narrowed(before, after) == (order.index(after) < order.index(before))
