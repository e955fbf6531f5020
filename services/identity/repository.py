"""All SQL for users, schools, login failures and share links."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import UTCDateTime, contains_pattern
from storage.models.identity import LoginThrottle, RevokedToken, Role, School, ShareLink, User
from storage.models.research import Topic
from storage.models.resources import Resource

# Everything that belongs to a school (a RESTRICT foreign key) and so keeps it from being deleted.
_SCHOOL_MEMBERS = {"users": User.school_id, "resources": Resource.school_id, "topics": Topic.school_id}


def _name_contains(text: str) -> ColumnElement[bool]:
    pattern = contains_pattern(text.lower())
    return or_(
        func.lower(User.username).like(pattern, escape="\\"),
        func.lower(User.display_name).like(pattern, escape="\\"),
    )


# Built once, not per request: every signed-in request runs it, and building it (coercing each clause,
# computing its cache key) cost SQLAlchemy about as much CPU as running it. A token without an id
# (token_id NULL) matches no revoked row.
_USER_WITH_REVOCATION = select(
    User,
    exists().where(RevokedToken.jti == bindparam("token_id", type_=String)).label("revoked"),
).where(User.id == bindparam("user_id"))


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_with_revocation(self, user_id: uuid.UUID, token_id: str | None) -> tuple[User | None, bool]:
        """The user, and whether this token id was signed out, in one query (every signed-in request)."""
        row = (
            await self.session.execute(_USER_WITH_REVOCATION, {"user_id": user_id, "token_id": token_id})
        ).first()
        return (row[0], bool(row[1])) if row else (None, False)

    async def by_ids(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
        """Id → user of those of these ids that name a user, in one query."""
        if not user_ids:
            return {}
        rows = await self.session.scalars(select(User).where(User.id.in_(set(user_ids))))
        return {user.id: user for user in rows.all()}

    async def get_by_username(self, username: str) -> User | None:
        return await self.session.scalar(select(User).where(func.lower(User.username) == username.lower()))

    async def existing_usernames(self, usernames: Sequence[str]) -> set[str]:
        lowered = [name.lower() for name in usernames]
        found = await self.session.scalars(
            select(func.lower(User.username)).where(func.lower(User.username).in_(lowered))
        )
        return set(found.all())

    def add(self, user: User) -> User:
        self.session.add(user)
        return user

    async def record_sign_in(self, user_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(update(User).where(User.id == user_id).values(last_login_at=at))

    def add_all(self, users: Sequence[User]) -> None:
        self.session.add_all(users)

    async def active_named_like(self, text: str, *, after: str | None, limit: int) -> list[User]:
        """Active users whose username or name contains `text`, by username, from after `after`."""
        query = select(User).where(User.is_active.is_(True), _name_contains(text))
        if after is not None:
            query = query.where(User.username > after)
        return list((await self.session.scalars(query.order_by(User.username).limit(limit))).all())

    async def list(
        self,
        *,
        school_id: uuid.UUID | None,
        role: Role | None,
        text: str | None,
        offset: int,
        limit: int,
        active_only: bool = False,
    ) -> tuple[list[User], int]:
        query = select(User)
        if active_only:
            query = query.where(User.is_active.is_(True))
        if school_id is not None:
            query = query.where(User.school_id == school_id)
        if role is not None:
            query = query.where(User.role == role)
        if text:
            query = query.where(_name_contains(text))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(query.order_by(User.username).offset(offset).limit(limit))
        return list(rows.all()), int(total or 0)


class SchoolRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, school_id: uuid.UUID) -> School | None:
        return await self.session.get(School, school_id)

    async def find_by_name_or_code(self, value: str) -> School | None:
        return await self.session.scalar(
            select(School).where(or_(School.name == value, School.code == value))
        )

    async def name_or_code_taken(
        self, name: str | None, code: str | None, *, excluding: uuid.UUID | None
    ) -> bool:
        conditions = []
        if name is not None:
            conditions.append(School.name == name)
        if code is not None:
            conditions.append(School.code == code)
        if not conditions:
            return False
        query = select(School.id).where(or_(*conditions))
        if excluding is not None:
            query = query.where(School.id != excluding)
        return await self.session.scalar(query.limit(1)) is not None

    def add(self, school: School) -> School:
        self.session.add(school)
        return school

    async def delete(self, school: School) -> None:
        await self.session.delete(school)

    async def what_still_belongs_to(self, school_id: uuid.UUID) -> list[str]:
        """The kinds of rows still referring to the school ("users", "resources", "topics")."""
        found = []
        for kind, column in _SCHOOL_MEMBERS.items():
            if await self.session.scalar(select(exists().where(column == school_id))):
                found.append(kind)
        return found

    async def list(self, *, offset: int, limit: int) -> tuple[list[School], int]:
        total = await self.session.scalar(select(func.count()).select_from(School))
        rows = await self.session.scalars(select(School).order_by(School.name).offset(offset).limit(limit))
        return list(rows.all()), int(total or 0)


@dataclass(frozen=True)
class ThrottleCount:
    attempts: int
    window_started_at: datetime


class LoginThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take_attempt(self, key: str, now: datetime, window: timedelta) -> ThrottleCount:
        """Count one more attempt under the key, atomically, and say how many the window now holds.

        A window starts with the first attempt and lasts `window`; the first attempt after it has run
        out starts a new one. The upsert takes the row lock (PostgreSQL) or the database's write lock
        (SQLite) until the transaction ends, so concurrent attempts are counted one after the other."""
        insert = postgresql_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        expired = LoginThrottle.window_started_at < now - window
        statement = (
            insert(LoginThrottle)
            .values(key=key, attempts=1, window_started_at=now)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "attempts": case((expired, 1), else_=LoginThrottle.attempts + 1),
                    "window_started_at": case(
                        (expired, literal(now, UTCDateTime())), else_=LoginThrottle.window_started_at
                    ),
                },
            )
            .returning(LoginThrottle.attempts, LoginThrottle.window_started_at)
        )
        attempts, window_started_at = (await self.session.execute(statement)).one()
        return ThrottleCount(attempts, window_started_at)

    async def give_back(self, key: str) -> None:
        """Uncount one attempt: it succeeded, or it was turned away before it was tried."""
        await self.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.attempts > 0)
            .values(attempts=LoginThrottle.attempts - 1)
        )

    async def forget(self, key: str) -> None:
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


class ShareLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, link_id: uuid.UUID) -> ShareLink | None:
        return await self.session.get(ShareLink, link_id)

    def add(self, link: ShareLink) -> ShareLink:
        self.session.add(link)
        return link

    async def live(
        self,
        now: datetime,
        *,
        object_type: str | None = None,
        object_id: uuid.UUID | None = None,
        created_by_id: uuid.UUID | None = None,
        limit: int = 200,
    ) -> list[ShareLink]:
        """Links neither revoked nor expired, newest first, to one object and/or made by one user."""
        query = select(ShareLink).where(ShareLink.revoked_at.is_(None), ShareLink.expires_at > now)
        if object_type is not None and object_id is not None:
            query = query.where(ShareLink.object_type == object_type, ShareLink.object_id == object_id)
        if created_by_id is not None:
            query = query.where(ShareLink.created_by_id == created_by_id)
        rows = await self.session.scalars(query.order_by(ShareLink.created_at.desc()).limit(limit))
        return list(rows.all())

    async def revoke_made_by_others(
        self, object_type: str, object_id: uuid.UUID, owner_id: uuid.UUID, now: datetime
    ) -> None:
        await self.session.execute(
            update(ShareLink)
            .where(
                ShareLink.object_type == object_type,
                ShareLink.object_id == object_id,
                ShareLink.created_by_id != owner_id,
                ShareLink.revoked_at.is_(None),
            )
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )


class RevokedTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def is_revoked(self, token_id: str) -> bool:
        return await self.session.get(RevokedToken, token_id) is not None

    async def revoke(self, token_id: str, expires_at: datetime) -> None:
        if await self.session.get(RevokedToken, token_id) is None:
            self.session.add(RevokedToken(jti=token_id, expires_at=expires_at))

    async def forget_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(RevokedToken)
            .where(RevokedToken.expires_at < now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
