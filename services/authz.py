"""The one place that answers "may user U do action A on object O".

Routers and services call `authorize` (raises) or `can` (asks); search gets the same rules as a
query clause from `search_access`. Nothing else decides permissions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from search.documents import AccessFilter
from services.errors import Forbidden, NotFound
from storage.models.identity import PublicationStatus, Role, User, Visibility


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
    """District admins everywhere; school admins inside their school. Private stays with its owner."""
    if principal is None:
        return False
    if principal.is_district_admin:
        return True
    return (
        principal.role == Role.school_admin
        and obj.visibility != Visibility.private
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
    if principal.is_district_admin:
        return AccessFilter(see_everything=True)
    visible = {Visibility.public.value, Visibility.district.value}
    if principal.role == Role.research_lead:
        visible.add(Visibility.school.value)
    return AccessFilter(
        user_id=str(principal.user_id),
        school_id=str(principal.school_id) if principal.school_id else None,
        whole_school=principal.role == Role.school_admin,
        published_visibilities=frozenset(visible),
    )


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
