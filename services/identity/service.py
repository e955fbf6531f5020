"""Identity use cases: signing in, schools, users and share links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services import authz
from services.authz import Action, Governed, Principal
from services.errors import AppError, Conflict, Forbidden, NotFound, Unauthorized
from services.identity.passwords import (
    MIN_PASSWORD_LENGTH,
    hash_password_in_thread,
    verify_password_in_thread,
)
from services.identity.repository import (
    LoginThrottleRepository,
    RevokedTokenRepository,
    SchoolRepository,
    ShareLinkRepository,
    UserRepository,
)
from services.identity.schemas import SchoolCreate, SchoolUpdate, UserCreate, UserUpdate
from services.identity.tokens import read_access_token
from services.observability import metrics
from services.settings import Settings
from storage.database import utcnow
from storage.models.identity import PublicationStatus, Role, School, ShareLink, User, Visibility

# Roles that belong to a school; district admins and research leads work across schools.
SCHOOL_ROLES = frozenset({Role.student, Role.teacher, Role.school_admin})


class TooManyAttempts(AppError):
    status_code = 429
    code = "too_many_attempts"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"

    def __init__(self, message: str = "Incorrect username or password") -> None:
        super().__init__(message)


class PasswordSignInOff(InvalidCredentials):
    """JIAOYUN_LOCAL_PASSWORDS=false: only district admins sign in with a password."""

    code = "password_sign_in_off"

    def __init__(self) -> None:
        super().__init__("Password sign-in is turned off here: sign in through the identity provider")


# -- signing in --------------------------------------------------------------------------------


def _throttle_key(*parts: str) -> str:
    # A digest: fixed length for the column however long the username sent, and no usernames at rest.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def _take_attempt(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, limits: list[tuple[str, int]]
) -> None:
    """Count an attempt under each (key, limit), in a transaction of its own committed before the
    password is checked: parallel guesses then each see the others' attempts. 429 once any key is over
    its limit; the keys counted for a refused attempt are given back (it was never tried)."""
    now = utcnow()
    window = timedelta(seconds=settings.login_failure_window_s)
    async with sessions.begin() as session:
        throttle = LoginThrottleRepository(session)
        counted: list[str] = []
        for key, limit in limits:
            count = await throttle.take_attempt(key, now, window)
            counted.append(key)
            if count.attempts > limit:
                for taken in counted:
                    await throttle.give_back(taken)
                retry_after = count.window_started_at + window - now
                metrics.rate_limited.labels("credentials").inc()
                raise TooManyAttempts(
                    "Too many failed attempts; try again later",
                    headers={"Retry-After": str(max(1, math.ceil(retry_after.total_seconds())))},
                )


async def _settle_attempt(
    sessions: async_sessionmaker[AsyncSession], forget: str, give_back: str | None = None
) -> None:
    """A successful attempt: its own key starts over, and it does not count against the address."""
    async with sessions.begin() as session:
        throttle = LoginThrottleRepository(session)
        await throttle.forget(forget)
        if give_back is not None:
            await throttle.give_back(give_back)


async def login(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    username: str,
    password: str,
    client_address: str,
) -> User:
    """The active user with these credentials; InvalidCredentials (401) or TooManyAttempts (429).

    Attempts are limited per username at an address (login_max_failures), so one account cannot be
    guessed at, and per address (login_max_failures_per_address), so one machine cannot try a common
    password on many accounts. Not per username alone: anyone could then lock anyone else out. A
    successful sign-in gives its attempt back."""
    account_key = _throttle_key("sign-in", username.strip().lower(), client_address)
    address_key = _throttle_key("sign-in from", client_address)
    await _take_attempt(
        sessions,
        settings,
        [(account_key, settings.login_max_failures), (address_key, settings.login_max_failures_per_address)],
    )
    async with sessions() as session:
        user = await UserRepository(session).get_by_username(username)
    # No transaction is open while argon2 runs in its thread.
    valid = await verify_password_in_thread(password, user.password_hash if user else None)
    if user is None or not valid or not user.is_active:
        metrics.login_failures.labels("password", "invalid_credentials").inc()
        raise InvalidCredentials()
    if not settings.local_passwords and user.role != Role.district_admin:
        metrics.login_failures.labels("password", "passwords_off").inc()
        raise PasswordSignInOff()
    await _settle_attempt(sessions, forget=account_key, give_back=address_key)
    async with sessions.begin() as session:
        await UserRepository(session).record_sign_in(user.id, utcnow())
    return user


# -- schools -----------------------------------------------------------------------------------


async def create_school(session: AsyncSession, principal: Principal, data: SchoolCreate) -> School:
    authz.require_district_admin(principal)
    schools = SchoolRepository(session)
    if await schools.name_or_code_taken(data.name, data.code, excluding=None):
        raise Conflict("A school with this name or code already exists")
    school = schools.add(School(name=data.name, code=data.code, stages=data.stages))
    await session.flush()
    return school


async def list_schools(session: AsyncSession, *, offset: int, limit: int) -> tuple[list[School], int]:
    return await SchoolRepository(session).list(offset=offset, limit=limit)


async def get_school(session: AsyncSession, school_id: uuid.UUID) -> School:
    school = await SchoolRepository(session).get(school_id)
    if school is None:
        raise NotFound("School not found")
    return school


async def update_school(
    session: AsyncSession, principal: Principal, school_id: uuid.UUID, data: SchoolUpdate
) -> School:
    school = await get_school(session, school_id)
    changes = data.model_dump(exclude_unset=True)
    if not authz.can_update_school(principal, school.id, changes):
        raise Forbidden("School administrators may change the name and stages of their own school only")
    if await SchoolRepository(session).name_or_code_taken(data.name, data.code, excluding=school.id):
        raise Conflict("A school with this name or code already exists")
    for field, value in changes.items():
        setattr(school, field, value)
    await session.flush()
    return school


async def delete_school(session: AsyncSession, principal: Principal, school_id: uuid.UUID) -> None:
    authz.require_district_admin(principal)
    school = await get_school(session, school_id)
    schools = SchoolRepository(session)
    members = await schools.what_still_belongs_to(school.id)
    if members:
        raise Conflict(
            f"The school still has {' and '.join(members)}; move or remove them before deleting the school"
        )
    await schools.delete(school)


# -- users -------------------------------------------------------------------------------------


async def _check_placement(
    session: AsyncSession, principal: Principal, role: Role, school_id: uuid.UUID | None
) -> None:
    if role not in authz.assignable_roles(principal):
        raise Forbidden(f"You may not assign the role {role.value}")
    if role in SCHOOL_ROLES:
        if school_id is None:
            raise AppError(f"A {role.value} must belong to a school", 422, code="invalid_payload")
        if not authz.can_place_in_school(principal, school_id):
            raise Forbidden("You may only manage users of your own school")
        if await SchoolRepository(session).get(school_id) is None:
            raise NotFound("School not found")
    elif school_id is not None:
        raise AppError(f"A {role.value} works across schools and has no school", 422, code="invalid_payload")


async def create_user(session: AsyncSession, principal: Principal, data: UserCreate) -> User:
    school_id = data.school_id
    if school_id is None and principal.role == Role.school_admin and data.role in SCHOOL_ROLES:
        school_id = principal.school_id
    await _check_placement(session, principal, data.role, school_id)
    return await _add_user(session, data.username, data.display_name, data.password, data.role, school_id)


async def _add_user(
    session: AsyncSession,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    school_id: uuid.UUID | None,
) -> User:
    users = UserRepository(session)
    if await users.get_by_username(username) is not None:
        raise Conflict("This username is taken")
    user = users.add(
        User(
            username=username,
            display_name=display_name,
            password_hash=await hash_password_in_thread(password),
            role=role,
            school_id=school_id,
        )
    )
    await session.flush()
    return user


async def get_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    user = await UserRepository(session).get(user_id)
    # Out of scope looks exactly like missing: ids of other schools reveal nothing.
    if user is None or not authz.can_see_user(principal, user):
        raise NotFound("User not found")
    return user


async def list_users(
    session: AsyncSession,
    principal: Principal,
    *,
    school_id: uuid.UUID | None,
    role: Role | None,
    text: str | None,
    offset: int,
    limit: int,
) -> tuple[list[User], int]:
    scope = authz.user_scope(principal)
    if scope is not None:
        if school_id is not None and school_id != scope:
            return [], 0
        school_id = scope
    return await UserRepository(session).list(
        school_id=school_id, role=role, text=text, offset=offset, limit=limit
    )


# Each kind of object people are @mentioned in (a topic, a lesson) registers how to load it.
MentionPlaceLoader = Callable[[AsyncSession, uuid.UUID], Awaitable[Governed | None]]
MENTION_PLACES: dict[str, MentionPlaceLoader] = {}
# Shorter queries would page through the whole district a letter at a time.
MIN_MENTION_QUERY = 2
_MENTION_CANDIDATE_BATCH = 100
_MENTION_CANDIDATE_BATCHES = 5


@dataclass(frozen=True)
class _TopicBeingWritten:
    """A topic not created yet, as its author will publish it: who could read it decides who is worth
    mentioning in it."""

    owner_id: uuid.UUID
    school_id: uuid.UUID | None
    visibility: Visibility
    status: PublicationStatus = PublicationStatus.published


async def _mention_place(
    session: AsyncSession,
    principal: Principal,
    place_type: str | None,
    place_id: uuid.UUID | None,
    new_topic_visibility: Visibility | None,
) -> Governed:
    """What the text being written belongs to: an existing object this user may read (404 otherwise),
    or a new topic of the given visibility."""
    if (place_id is None) == (new_topic_visibility is None):
        raise AppError(
            "Name the topic or lesson written in (topic_id or resource_id), or a new topic's visibility",
            422,
            code="invalid_payload",
        )
    if new_topic_visibility is not None:
        return _TopicBeingWritten(principal.user_id, principal.school_id, new_topic_visibility)
    assert place_type is not None and place_id is not None
    place = await MENTION_PLACES[place_type](session, place_id)
    if place is None:
        raise NotFound("Not found")
    authz.authorize(principal, Action.read, place)
    return place


async def mentionable_people(
    session: AsyncSession,
    principal: Principal,
    text: str,
    limit: int,
    *,
    place_type: str | None = None,
    place_id: uuid.UUID | None = None,
    new_topic_visibility: Visibility | None = None,
) -> list[User]:
    """Active people whose username or name contains the text and who could read `place`, for
    @mention completion: nobody is offered who would not be told (mentions notify readers only), and
    nobody learns of people beyond those. Only the roles that post in discussions look people up."""
    if not authz.can_open_topic(principal):
        raise Forbidden("Only teachers and staff can look colleagues up")
    if len(text) < MIN_MENTION_QUERY:
        raise AppError(f"Type at least {MIN_MENTION_QUERY} characters", 422, code="invalid_payload")
    place = await _mention_place(session, principal, place_type, place_id, new_topic_visibility)
    repository = UserRepository(session)
    found: list[User] = []
    after: str | None = None
    for _ in range(_MENTION_CANDIDATE_BATCHES):
        batch = await repository.active_named_like(text, after=after, limit=_MENTION_CANDIDATE_BATCH)
        found.extend(user for user in batch if authz.can_read(Principal.of(user), place))
        if len(found) >= limit or len(batch) < _MENTION_CANDIDATE_BATCH:
            break
        after = batch[-1].username
    return found[:limit]


async def update_user(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, data: UserUpdate
) -> User:
    user = await get_user(session, principal, user_id)
    changes = data.model_dump(exclude_unset=True)
    authz.authorize_user_update(principal, user, changes)
    if "role" in changes or "school_id" in changes:
        role = changes.get("role", user.role)
        await _check_placement(session, principal, role, changes.get("school_id", user.school_id))
    password = changes.pop("password", None)
    if password is not None:
        user.password_hash = await hash_password_in_thread(password)
    if password is not None or changes.get("is_active") is False:
        # A new password or a deactivation ends the sessions opened before it.
        user.token_version += 1
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    return user


async def change_own_password(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, user: User, current: str, new: str
) -> None:
    """With the current password, which is guessed at no faster than at sign-in (a stolen token alone
    should not take the account over). Ends every token issued so far."""
    key = _throttle_key("password change", str(user.id))
    await _take_attempt(sessions, settings, [(key, settings.login_max_failures)])
    if not await verify_password_in_thread(current, user.password_hash):
        raise Forbidden("The current password is not correct")
    await _settle_attempt(sessions, forget=key)
    user.password_hash = await hash_password_in_thread(new)
    user.token_version += 1


# -- signing out -------------------------------------------------------------------------------


async def sign_out(session: AsyncSession, settings: Settings, user: User, token: str) -> None:
    """End this token on the server: it is refused from now on, wherever it was copied to. A token
    from before tokens had ids cannot be told apart from the user's others: those all end."""
    claims = read_access_token(token, settings)
    if claims is None or claims.user_id != user.id:
        return
    if claims.token_id is None or claims.expires_at is None:
        user.token_version += 1
        return
    await RevokedTokenRepository(session).revoke(claims.token_id, claims.expires_at)


def sign_out_everywhere(user: User) -> None:
    """End every token the user holds, on every device (the same as a password change does)."""
    user.token_version += 1


async def forget_expired_revocations(session: AsyncSession) -> int:
    """Revoked tokens past their expiry are refused by their signature already."""
    return await RevokedTokenRepository(session).forget_expired(utcnow())


async def create_district_admin(
    session: AsyncSession, username: str, password: str, display_name: str
) -> User:
    """The first account of an installation, made from the command line (no principal yet)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    try:
        return await _add_user(session, username, display_name, password, Role.district_admin, None)
    except Conflict as exc:
        raise ValueError(f"username {username!r} is taken") from exc


# -- share links -------------------------------------------------------------------------------

# Each shareable kind of object registers how to load it (None when it does not exist).
ShareableLoader = Callable[[AsyncSession, uuid.UUID], Awaitable[Governed | None]]
SHAREABLE: dict[str, ShareableLoader] = {}


def _share_signature(link_id: uuid.UUID, settings: Settings) -> str:
    digest = hmac.new(
        settings.secret_key.get_secret_value().encode(), b"share:" + link_id.bytes, hashlib.sha256
    )
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def share_token(link_id: uuid.UUID, settings: Settings) -> str:
    return f"{link_id.hex}.{_share_signature(link_id, settings)}"


async def _load_shareable(session: AsyncSession, object_type: str, object_id: uuid.UUID) -> Governed | None:
    loader = SHAREABLE.get(object_type)
    if loader is None:
        raise AppError(f"Objects of type {object_type!r} cannot be shared", 422, code="invalid_payload")
    return await loader(session, object_id)


async def create_share_link(
    session: AsyncSession,
    principal: Principal,
    object_type: str,
    object_id: uuid.UUID,
    expires_in: timedelta,
) -> ShareLink:
    obj = await _load_shareable(session, object_type, object_id)
    if obj is None:
        raise NotFound("Not found")
    authz.require(principal, obj, authz.can_share(principal, obj), "You may not share this")
    link = ShareLinkRepository(session).add(
        ShareLink(
            object_type=object_type,
            object_id=object_id,
            created_by_id=principal.user_id,
            expires_at=utcnow() + expires_in,
        )
    )
    await session.flush()
    return link


async def resolve_share_token(session: AsyncSession, settings: Settings, token: str) -> ShareLink:
    """The live link a token names; 404 for anything forged, expired, revoked or orphaned."""
    link_hex, _, signature = token.partition(".")
    try:
        link_id = uuid.UUID(hex=link_hex)
    except ValueError as exc:
        raise NotFound("Share link not found") from exc
    if not hmac.compare_digest(signature, _share_signature(link_id, settings)):
        raise NotFound("Share link not found")
    link = await ShareLinkRepository(session).get(link_id)
    if link is None or link.revoked_at is not None or link.expires_at <= utcnow():
        raise NotFound("Share link not found or expired")
    shared = await _load_shareable(session, link.object_type, link.object_id)
    if shared is None:
        raise NotFound("Share link not found")
    # Checked at every use, not only when it was made: what its creator may grant now.
    creator = await UserRepository(session).get(link.created_by_id)
    if not authz.share_link_honoured(creator, shared):
        raise NotFound("Share link not found or expired")
    return link


@dataclass(frozen=True)
class LiveShareLink:
    link: ShareLink
    creator: User


async def live_share_links(
    session: AsyncSession,
    principal: Principal,
    object_type: str | None = None,
    object_id: uuid.UUID | None = None,
) -> list[LiveShareLink]:
    """The links that work now: to one object (every one for its owner, one's own for anyone else
    who may read it; 404 for an object one may not read), or without an object, those one made."""
    repository = ShareLinkRepository(session)
    now = utcnow()
    shared: dict[tuple[str, uuid.UUID], Governed | None] = {}
    if object_type is not None and object_id is not None:
        obj = await _load_shareable(session, object_type, object_id)
        if obj is None or not authz.can_read(principal, obj):
            raise NotFound("Not found")
        shared[(object_type, object_id)] = obj
        made_by = None if authz.sees_every_share_link(principal, obj) else principal.user_id
        links = await repository.live(
            now, object_type=object_type, object_id=object_id, created_by_id=made_by
        )
    else:
        links = await repository.live(now, created_by_id=principal.user_id)
    creators = await UserRepository(session).by_ids([link.created_by_id for link in links])
    live: list[LiveShareLink] = []
    for link in links:
        key = (link.object_type, link.object_id)
        if link.object_type not in SHAREABLE:
            continue  # a kind no longer shareable: its links open nothing
        if key not in shared:
            shared[key] = await _load_shareable(session, *key)
        obj, creator = shared[key], creators.get(link.created_by_id)
        if obj is not None and creator is not None and authz.share_link_honoured(creator, obj):
            live.append(LiveShareLink(link, creator))
    return live


async def end_links_of_others(
    session: AsyncSession, object_type: str, object_id: uuid.UUID, owner_id: uuid.UUID
) -> None:
    """The owner showed the object to fewer people: links others made while it was wider end for good
    (they do not come back should it be widened again). The owner's own links stay theirs to revoke."""
    await ShareLinkRepository(session).revoke_made_by_others(object_type, object_id, owner_id, utcnow())


async def revoke_share_link(session: AsyncSession, principal: Principal, link_id: uuid.UUID) -> ShareLink:
    link = await ShareLinkRepository(session).get(link_id)
    if link is None:
        raise NotFound("Share link not found")
    shared = await _load_shareable(session, link.object_type, link.object_id)
    # Links one may not revoke look missing: their ids say nothing about what they share.
    if not authz.can_revoke_share_link(principal, link, shared):
        raise NotFound("Share link not found")
    link.revoked_at = link.revoked_at or utcnow()
    return link
