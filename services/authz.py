"""The one place that answers "may user U do action A on object O".

Routers and services call `authorize` (raises) or `can` (asks); search gets the same rules as a
query clause from `search_access`. Nothing else decides permissions.

The read rule for governed content (resources, topics):
- private: its owner only. Nobody else, district admins included, opens it; a share link its owner
  makes is the one way to show it to someone (links others made end when it becomes private, and a
  link only ever grants what its creator may still share: see `share_link_honoured`).
- drafts (not private): their owner and the administrators of their scope, school admins inside
  their school, district admins everywhere.
- published: public for everyone, guests too; district for everyone signed in; school for that
  school's people and research leads (who work across schools).
Whoever cannot read something gets 404 for every action on it, never 403, so ids leak nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from search.documents import AccessFilter
from services.errors import Forbidden, NotFound
from storage.models.identity import PublicationStatus, Role, ShareLink, User, Visibility


class Action(StrEnum):
    read = "read"
    update = "update"
    delete = "delete"
    comment = "comment"


class Governed(Protocol):
    """Anything with an owner, a school, a visibility and a publication status."""

    @property
    def owner_id(self) -> uuid.UUID: ...

    @property
    def school_id(self) -> uuid.UUID | None: ...

    @property
    def visibility(self) -> Visibility: ...

    @property
    def status(self) -> PublicationStatus: ...


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: Role
    school_id: uuid.UUID | None

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user_id=user.id, role=user.role, school_id=user.school_id)

    @property
    def is_district_admin(self) -> bool:
        return self.role == Role.district_admin


# Roles that review and discuss; students read and search only.
_CONTRIBUTORS = frozenset({Role.teacher, Role.research_lead, Role.school_admin, Role.district_admin})


def _is_owner(principal: Principal | None, obj: Governed) -> bool:
    return principal is not None and obj.owner_id == principal.user_id


def _administers(principal: Principal | None, obj: Governed) -> bool:
    """District admins everywhere; school admins inside their school. Private stays with its owner:
    not even a district admin opens a teacher's private drafts (they are not the district's yet)."""
    if principal is None or obj.visibility == Visibility.private:
        return False
    if principal.is_district_admin:
        return True
    return (
        principal.role == Role.school_admin
        and principal.school_id is not None
        and obj.school_id == principal.school_id
    )


def can_read(principal: Principal | None, obj: Governed) -> bool:
    if _is_owner(principal, obj) or _administers(principal, obj):
        return True
    if obj.visibility == Visibility.private or obj.status != PublicationStatus.published:
        return False
    if obj.visibility == Visibility.public:
        return True
    if principal is None:
        return False
    if obj.visibility == Visibility.district or principal.role == Role.research_lead:
        return True
    return principal.school_id is not None and obj.school_id == principal.school_id


def can(principal: Principal | None, action: Action, obj: Governed) -> bool:
    if not can_read(principal, obj):
        return False
    if action == Action.read:
        return True
    if principal is None:
        # Guests read public content and do nothing else.
        return False
    if action == Action.comment:
        return principal.role in _CONTRIBUTORS and (
            obj.status == PublicationStatus.published or _is_owner(principal, obj)
        )
    if _is_owner(principal, obj) or _administers(principal, obj):
        return True
    # Research leads moderate across schools: they may take published content down, not edit it.
    return action == Action.delete and principal.role == Role.research_lead


def authorize(principal: Principal | None, action: Action, obj: Governed) -> None:
    """Raise 404 when the object must stay invisible, 403 when it is visible but the action is not allowed."""
    if not can_read(principal, obj):
        raise NotFound("Not found")
    if not can(principal, action, obj):
        raise Forbidden(f"You may not {action.value} this")


def search_access(principal: Principal | None) -> AccessFilter:
    """The read rule above, as a filter both search backends apply inside the query."""
    if principal is None:
        return AccessFilter(published_visibilities=frozenset({Visibility.public.value}))
    visible = {Visibility.public.value, Visibility.district.value}
    if principal.role == Role.research_lead or principal.is_district_admin:
        visible.add(Visibility.school.value)
    return AccessFilter(
        user_id=str(principal.user_id),
        school_id=str(principal.school_id) if principal.school_id else None,
        whole_school=principal.role == Role.school_admin,
        whole_district=principal.is_district_admin,
        published_visibilities=frozenset(visible),
    )


# -- resources and their uploads -----------------------------------------------------------------


def can_upload(principal: Principal) -> bool:
    """Teachers, research leads and administrators upload resources; students find and open them."""
    return principal.role in _CONTRIBUTORS


def can_start_upload(principal: Principal) -> bool:
    """Resumable uploads: whoever uploads resources, and students for the work they hand in (their
    uploads attach only to their own submissions, as creating a resource asks `can_upload`)."""
    return can_upload(principal) or principal.role == Role.student


def can_use_upload(principal: Principal, upload_owner_id: uuid.UUID) -> bool:
    """A resumable upload is its starter's alone: only they see it, send its parts, complete, attach or
    abort it, whatever their role."""
    return upload_owner_id == principal.user_id


def share_grants(link: ShareLink, object_type: str, object_id: uuid.UUID) -> bool:
    """A (valid) share link opens exactly the object it was made for, and nothing else."""
    return link.object_type == object_type and link.object_id == object_id


def can_share(principal: Principal | None, obj: Governed) -> bool:
    """Sharing widens who sees something, so it takes the right to change it: its owner, and while it
    is not private the administrators of its scope. A private object is its owner's alone to show."""
    if obj.visibility == Visibility.private:
        return _is_owner(principal, obj)
    return can(principal, Action.update, obj)


def share_link_honoured(creator: User | None, shared: Governed) -> bool:
    """A link grants no more than its creator could grant at the moment it is used: it dies with its
    creator's account (deactivated, deleted) or their right to share the object (moved to another
    school, demoted, or the owner made it private)."""
    return creator is not None and creator.is_active and can_share(Principal.of(creator), shared)


def sees_every_share_link(principal: Principal, shared: Governed) -> bool:
    """The owner sees (and may revoke) every link to their object, whoever made it; anyone else only
    the links they made themselves."""
    return _is_owner(principal, shared)


def can_revoke_share_link(principal: Principal, link: ShareLink, shared: Governed | None) -> bool:
    """Its creator, or whoever may change what it shares (and so could have made it themselves)."""
    return link.created_by_id == principal.user_id or (
        shared is not None and can(principal, Action.update, shared)
    )


# From the fewest readers to the most.
_AUDIENCE = (Visibility.private, Visibility.school, Visibility.district, Visibility.public)


def audience_narrowed(before: Visibility, after: Visibility) -> bool:
    """Whether a change of visibility shows the object to fewer people: the owner's decision then
    outranks the links anyone else made while it was wider."""
    return _AUDIENCE.index(after) < _AUDIENCE.index(before)


# -- teaching research: topic threads ----------------------------------------------------------


def can_open_topic(principal: Principal) -> bool:
    """Teachers, research leads and administrators open topics; students read and search them."""
    return principal.role in _CONTRIBUTORS


def can_moderate(principal: Principal | None, obj: Governed) -> bool:
    """Pin, unpin and take down: research leads on what they can read, school admins in their school,
    district admins everywhere."""
    if principal is None or not can_read(principal, obj):
        return False
    if principal.is_district_admin or principal.role == Role.research_lead:
        return True
    return (
        principal.role == Role.school_admin
        and principal.school_id is not None
        and obj.school_id == principal.school_id
    )


def can_edit_topic(principal: Principal | None, obj: Governed) -> bool:
    """A topic's words are its author's; district admins may correct them."""
    return (
        principal is not None
        and can_read(principal, obj)
        and (_is_owner(principal, obj) or principal.is_district_admin)
    )


def can_summarize(principal: Principal | None, obj: Governed) -> bool:
    """The author closes their own discussion; research leads and district admins close any they see."""
    return (
        principal is not None
        and can_read(principal, obj)
        and (_is_owner(principal, obj) or principal.is_district_admin or principal.role == Role.research_lead)
    )


def can_edit_post(principal: Principal | None, topic: Governed, author_id: uuid.UUID) -> bool:
    """Only the author rewrites a post, and only while they can still see its topic."""
    return principal is not None and can_read(principal, topic) and author_id == principal.user_id


def can_delete_post(principal: Principal | None, topic: Governed, author_id: uuid.UUID) -> bool:
    return can_edit_post(principal, topic, author_id) or can_moderate(principal, topic)


def require(principal: Principal | None, obj: Governed, allowed: bool, message: str) -> None:
    """Like `authorize`, for the rules above: 404 when `obj` is unreadable, 403 when not `allowed`."""
    if not can_read(principal, obj):
        raise NotFound("Not found")
    if not allowed:
        raise Forbidden(message)


# -- teaching research: lesson review (观课议课) and research statistics ------------------------


def can_see_review_scores(principal: Principal | None, lesson: Governed) -> bool:
    """A lesson's review, its rubric scores and its comment timeline alike, is for its teacher and the
    colleagues who may review it: teachers, research leads and administrators who can read the lesson.
    Students and guests see the lesson, not what colleagues made of it."""
    return (
        principal is not None
        and can_read(principal, lesson)
        and (_is_owner(principal, lesson) or principal.role in _CONTRIBUTORS)
    )


def can_edit_comment(principal: Principal | None, lesson: Governed, author_id: uuid.UUID) -> bool:
    """Only its author rewrites a review comment, and only while they may still comment on the lesson;
    not even the lesson's teacher puts words in a colleague's mouth."""
    return principal is not None and author_id == principal.user_id and can(principal, Action.comment, lesson)


def can_delete_comment(principal: Principal | None, lesson: Governed, author_id: uuid.UUID) -> bool:
    """Its author, or whoever may delete the lesson: its teacher, its administrators, research leads."""
    return (
        principal is not None
        and can_read(principal, lesson)
        and (author_id == principal.user_id or can(principal, Action.delete, lesson))
    )


def can_resolve_comment(principal: Principal | None, lesson: Governed, author_id: uuid.UUID) -> bool:
    """The lesson's teacher (who acts on it) or the comment's author (who is satisfied) settles it."""
    return (
        principal is not None
        and can_read(principal, lesson)
        and principal.user_id in (lesson.owner_id, author_id)
    )


def can_score(principal: Principal | None, lesson: Governed) -> bool:
    """Colleagues who may review a lesson score it; its own teacher does not score themselves."""
    return can(principal, Action.comment, lesson) and not _is_owner(principal, lesson)


# Research leads (教研员) design the district's observation tools with the district administrators.
_FRAMEWORK_EDITORS = frozenset({Role.research_lead, Role.district_admin})


def can_edit_observation_framework(principal: Principal) -> bool:
    """Observation categories and rubrics (观察量表): created, edited and retired by research leads and
    district administrators."""
    return principal.role in _FRAMEWORK_EDITORS


_DISTRICT_STATS_VIEWERS = frozenset({Role.research_lead, Role.district_admin})


def stats_scope(principal: Principal, school_id: uuid.UUID | None) -> uuid.UUID | None:
    """The school research statistics are restricted to (None: the whole district), or 403: research
    leads and district admins see any school or the district, school admins their own school."""
    if principal.role in _DISTRICT_STATS_VIEWERS:
        return school_id
    if principal.role == Role.school_admin and principal.school_id is not None:
        if school_id is not None and school_id != principal.school_id:
            raise Forbidden("School administrators see the statistics of their own school")
        return principal.school_id
    raise Forbidden("Research statistics are for administrators and research leads")


# -- the showcase (优秀课例, featured) and collections (专题资源包) --------------------------------
# Reviewers mark: research leads and district admins at every level; school admins 校级 for their own
# school's resources. Research leads are not yet limited to their subjects here (see issue 18's review
# settings, which map leads to subjects).
_SHOWCASE_REVIEWERS = frozenset({Role.research_lead, Role.district_admin})


def can_mark_exemplary(principal: Principal | None, resource: Governed, level: str) -> bool:
    if principal is None or not can_read(principal, resource):
        return False
    if principal.role in _SHOWCASE_REVIEWERS:
        return True
    return (
        level == "school"
        and principal.role == Role.school_admin
        and principal.school_id is not None
        and resource.school_id == principal.school_id
    )


def can_feature(principal: Principal | None, resource: Governed) -> bool:
    """Featuring puts a resource on everyone's home page: the district's reviewers decide it."""
    return principal is not None and principal.role in _SHOWCASE_REVIEWERS and can_read(principal, resource)


def can_make_collections(principal: Principal) -> bool:
    """Teachers, research leads and administrators assemble collections; students browse and follow."""
    return principal.role in _CONTRIBUTORS


# -- people ------------------------------------------------------------------------------------

_SCHOOL_ADMIN_ASSIGNABLE = frozenset({Role.student, Role.teacher, Role.school_admin})


def assignable_roles(principal: Principal) -> frozenset[Role]:
    if principal.is_district_admin:
        return frozenset(Role)
    if principal.role == Role.school_admin:
        return _SCHOOL_ADMIN_ASSIGNABLE
    return frozenset()


def can_see_user(principal: Principal, user: User) -> bool:
    if user.id == principal.user_id or principal.is_district_admin:
        return True
    return (
        principal.role == Role.school_admin
        and user.school_id is not None
        and user.school_id == principal.school_id
    )


def can_manage_user(principal: Principal, user: User) -> bool:
    if principal.is_district_admin:
        return True
    return (
        principal.role == Role.school_admin
        and user.school_id == principal.school_id
        and user.role in _SCHOOL_ADMIN_ASSIGNABLE
    )


def can_place_in_school(principal: Principal, school_id: uuid.UUID) -> bool:
    """District admins put people in any school; school admins in their own only."""
    return principal.is_district_admin or (
        principal.role == Role.school_admin
        and principal.school_id is not None
        and school_id == principal.school_id
    )


# What anyone may change about themselves; the rest of a user is for their administrators.
_SELF_SERVICE_FIELDS = frozenset({"display_name"})
# What administrators may not change about themselves: nobody promotes or locks out themselves, and
# one's own password changes at /me/password, which asks for the current one first.
_OWN_STANDING_FIELDS = frozenset({"role", "is_active", "password"})


def authorize_user_update(principal: Principal, user: User, fields: Collection[str]) -> None:
    """Raise Forbidden unless the principal may change these fields of this (visible) user."""
    changing = set(fields)
    if user.id == principal.user_id:
        if changing <= _SELF_SERVICE_FIELDS:
            return
        if changing & _OWN_STANDING_FIELDS:
            raise Forbidden(
                "You may not change your own role, deactivate yourself or set your own password here "
                "(change it at /me/password)"
            )
    if not can_manage_user(principal, user):
        raise Forbidden("You may not change this user")


# A school admin keeps their school's entry up to date; its code is the district's registry number.
_SCHOOL_ADMIN_SCHOOL_FIELDS = frozenset({"name", "stages"})


def can_update_school(principal: Principal, school_id: uuid.UUID, fields: Collection[str]) -> bool:
    """District admins change any school; school admins the name and stages of their own. Creating
    and deleting schools stays with the district (require_district_admin)."""
    if principal.is_district_admin:
        return True
    return (
        principal.role == Role.school_admin
        and principal.school_id == school_id
        and set(fields) <= _SCHOOL_ADMIN_SCHOOL_FIELDS
    )


def user_scope(principal: Principal) -> uuid.UUID | None:
    """The school a user list is restricted to (None: the whole district). 403 for non-admins."""
    if principal.is_district_admin:
        return None
    if principal.role == Role.school_admin and principal.school_id is not None:
        return principal.school_id
    raise Forbidden("Only administrators can list users")


def require_district_admin(principal: Principal) -> None:
    if not principal.is_district_admin:
        raise Forbidden("Only district administrators can do this")


# -- classes, assignments and submissions (the students' half) ---------------------------------
# Minors' work is the narrowest data here: a student's submissions are theirs, their class's
# teachers' and their school's administrators', and nobody else's (district admins included).


def can_manage_classes(principal: Principal, school_id: uuid.UUID) -> bool:
    """School admins manage their school's classes; district admins any school's."""
    return principal.is_district_admin or (
        principal.role == Role.school_admin and principal.school_id == school_id
    )


def can_see_class(principal: Principal, school_id: uuid.UUID, *, teaches: bool, member: bool) -> bool:
    """A class shows to its students and teachers and to whoever manages the school's classes."""
    return teaches or member or can_manage_classes(principal, school_id)


def can_assign(principal: Principal) -> bool:
    """Teachers (and school admins who teach) give work to the classes they teach."""
    return principal.role in (Role.teacher, Role.school_admin, Role.research_lead)


def can_read_assignment(
    principal: Principal, school_id: uuid.UUID, teacher_id: uuid.UUID, *, teaches: bool, member: bool
) -> bool:
    """Its teacher, the students and teachers of the classes it was given to, the school's admins."""
    return (
        principal.user_id == teacher_id
        or teaches
        or member
        or (principal.role == Role.school_admin and principal.school_id == school_id)
    )


def can_change_assignment(principal: Principal, teacher_id: uuid.UUID) -> bool:
    return principal.user_id == teacher_id


def can_read_submission(
    principal: Principal, student_id: uuid.UUID, school_id: uuid.UUID, *, teaches: bool
) -> bool:
    """The student themselves, the teachers of the class it was handed in for (and the assignment's
    teacher, who counts as teaching it), the school's admins. Anyone else gets 404."""
    if principal.user_id == student_id:
        return True
    if principal.role == Role.student:
        return False
    return teaches or (principal.role == Role.school_admin and principal.school_id == school_id)


def can_review_submission(principal: Principal, student_id: uuid.UUID, *, teaches: bool) -> bool:
    """Grading and returning work is for the teachers of the class, never the student."""
    return teaches and principal.user_id != student_id and principal.role != Role.student


def can_submit(principal: Principal, *, member: bool) -> bool:
    """Students hand in work for assignments given to their class."""
    return principal.role == Role.student and member


# -- approval before district-wide publishing (审核, services/review) -------------------------------
# Who is shown what meanwhile is services/review/rules.py; here, who publishes without review and who
# decides on a request.


def publishes_without_review(principal: Principal, level: str, school_id: uuid.UUID | None) -> bool:
    """District admins publish anywhere without review; a school's admins publish to their own school
    without the school review it may require. Everyone else's district/public publishing waits."""
    if principal.is_district_admin:
        return True
    return (
        level == "school"
        and principal.role == Role.school_admin
        and principal.school_id is not None
        and principal.school_id == school_id
    )


def can_review_request(
    principal: Principal,
    *,
    level: str,
    owner_id: uuid.UUID,
    school_id: uuid.UUID | None,
    leads_its_subject: bool,
) -> bool:
    """District requests: research leads of the subject (and stage) it is filed under, and district
    admins for all. School requests: that school's admins and district admins. Nobody decides on
    what they asked for themselves."""
    if principal.user_id == owner_id:
        return False
    if principal.is_district_admin:
        return True
    if level == "school":
        return (
            principal.role == Role.school_admin and school_id is not None and principal.school_id == school_id
        )
    return principal.role == Role.research_lead and leads_its_subject


def can_manage_review_leads(principal: Principal) -> bool:
    """District admins say which research lead reviews which subject and stage."""
    return principal.is_district_admin


def can_set_school_review(principal: Principal, school_id: uuid.UUID) -> bool:
    """Whether a school reviews its teachers' school-wide publishing: its admins or the district's."""
    return principal.is_district_admin or (
        principal.role == Role.school_admin and principal.school_id == school_id
    )
