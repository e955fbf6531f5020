"""All SQL of single sign-on: sign-ins under way, and the accounts and schools claims point at."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import OidcSignIn, School, User


class SignInRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, sign_in: OidcSignIn) -> None:
        self.session.add(sign_in)

    async def take(self, state_hash: str, now: datetime) -> OidcSignIn | None:
        """The sign-in this state started, removed so that it completes once; None when it never
        existed, was completed already or has expired."""
        sign_in = await self.session.get(OidcSignIn, state_hash)
        if sign_in is None:
            return None
        deleted = await self.session.execute(delete(OidcSignIn).where(OidcSignIn.state_hash == state_hash))
        if deleted.rowcount != 1:  # type: ignore[attr-defined]
            return None  # a second callback with the same state got there first
        return sign_in if sign_in.expires_at > now else None

    async def forget_expired(self, now: datetime) -> None:
        await self.session.execute(delete(OidcSignIn).where(OidcSignIn.expires_at <= now))


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_external_id(self, external_id: str) -> User | None:
        return await self.session.scalar(select(User).where(User.external_id == external_id))

    async def by_username(self, username: str) -> User | None:
        return await self.session.scalar(select(User).where(func.lower(User.username) == username.lower()))

    async def school_by_code_or_name(self, value: str) -> School | None:
        found = await self.session.scalars(
            select(School).where(or_(School.code == value, School.name == value)).order_by(School.code)
        )
        schools = list(found.all())
        # A code is the stronger match: one school's code may be another's name only by accident.
        for school in schools:
            if school.code == value:
                return school
        return schools[0] if schools else None

    def add(self, user: User) -> None:
        self.session.add(user)
