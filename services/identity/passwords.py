"""Password hashing (argon2). Hashing is slow on purpose, so request handlers use the *_in_thread
variants: on the event loop it would stall every other request for tens of milliseconds."""

from __future__ import annotations

from functools import cache

from anyio import to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher.verify(password, password_hash)


@cache
def _stand_in_hash() -> str:
    # Made on first use, not at import: importing the app should not cost an argon2 hash.
    return hash_password("not-a-real-password")


def _verify_or_stand_in(password: str, password_hash: str | None) -> bool:
    if password_hash is None or not password_hash.startswith("$"):
        # No such account, or one without a password (it signs in through the identity provider):
        # hash anyway, so the response time does not tell which usernames exist.
        verify_password(password, _stand_in_hash())
        return False
    return verify_password(password, password_hash)


async def hash_password_in_thread(password: str) -> str:
    return await to_thread.run_sync(hash_password, password)


async def verify_password_in_thread(password: str, password_hash: str | None) -> bool:
    """Whether the password matches; None for an account that does not exist (always False, as slow)."""
    return await to_thread.run_sync(_verify_or_stand_in, password, password_hash)
