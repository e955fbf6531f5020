"""All SQL for users, schools, login failures and share links."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import LoginFailure, Role, School, ShareLink, User
from storage.models.research import Topic
from storage.models.resources import Resource

# Everything that belongs to a school (a RESTRICT foreign key) and so keeps it from being deleted.
_SCHOOL_MEMBERS = {"users": User.school_id, "resources": Resource.school_id, "topics": Topic.school_id}


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

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

    def add_all(self, users: Sequence[User]) -> None:
        self.session.add_all(users)

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
            pattern = f"%{text.lower()}%"
            query = query.where(
                or_(func.lower(User.username).like(pattern), func.lower(User.display_name).like(pattern))
            )
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


class LoginFailureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_since(self, key: str, since: datetime) -> int:
        query = select(func.count()).where(LoginFailure.key == key, LoginFailure.at >= since)
        return int(await self.session.scalar(query) or 0)

    async def oldest_since(self, key: str, since: datetime) -> datetime | None:
        query = select(func.min(LoginFailure.at)).where(LoginFailure.key == key, LoginFailure.at >= since)
        return await self.session.scalar(query)

    def record(self, key: str, at: datetime) -> None:
        self.session.add(LoginFailure(key=key, at=at))

    async def clear(self, key: str, *, before: datetime | None = None) -> None:
        statement = delete(LoginFailure).where(LoginFailure.key == key)
        if before is not None:
            statement = statement.where(LoginFailure.at < before)
        await self.session.execute(statement)


class ShareLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, link_id: uuid.UUID) -> ShareLink | None:
        return await self.session.get(ShareLink, link_id)

    def add(self, link: ShareLink) -> ShareLink:
        self.session.add(link)
        return link
