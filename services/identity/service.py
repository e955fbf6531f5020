"""Identity use cases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.passwords import MIN_PASSWORD_LENGTH, hash_password
from services.identity.repository import UserRepository
from storage.models.identity import Role, User


async def create_district_admin(
    session: AsyncSession, username: str, password: str, display_name: str
) -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    users = UserRepository(session)
    if await users.get_by_username(username) is not None:
        raise ValueError(f"username {username!r} is taken")
    user = users.add(
        User(
            username=username,
            display_name=display_name,
            password_hash=hash_password(password),
            role=Role.district_admin,
            school_id=None,
        )
    )
    await session.flush()
    return user
