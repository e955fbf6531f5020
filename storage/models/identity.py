from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.database import Base, Timestamps, UUIDPrimaryKey, utcnow


class Role(StrEnum):
    student = "student"
    teacher = "teacher"
    research_lead = "research_lead"
    school_admin = "school_admin"
    district_admin = "district_admin"


class School(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "schools"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    stages: Mapped[str] = mapped_column(String(64), default="")


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
    school_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schools.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    # Written into every token issued; a password change or deactivation moves it on, which ends all
    # tokens issued before (stolen ones included) without a list of revoked tokens.
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Who the OpenID provider says this is (its `sub`, or the configured claim); None until the
    # account first signs in through it. Accounts imported from CSV are matched by username then.
    external_id: Mapped[str | None] = mapped_column(String(255))

    school: Mapped[School | None] = relationship(lazy="raise")


# Usernames are looked up case-insensitively (lower() on both sides), so they are unique that way too:
# "Li.Ming" and "li.ming" are one account, even when two requests create them at the same moment.
Index("uq_users_username_lower", func.lower(User.username), unique=True)
Index("uq_users_external_id", User.external_id, unique=True)


class Visibility(StrEnum):
    private = "private"
    school = "school"
    district = "district"
    public = "public"


class PublicationStatus(StrEnum):
    draft = "draft"
    published = "published"


class LoginThrottle(Base):
    """Sign-in attempts per key (a username at an address, an address, a password change) in a window,
    kept in the database so the limit holds across API replicas. One row per key, counted up with an
    atomic upsert, so parallel guesses cannot all pass a check made before any of them was counted."""

    __tablename__ = "login_throttles"

    # A sha256 hex digest of what is limited: fixed length, whatever a client sends as a username.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int]
    window_started_at: Mapped[datetime]


class OidcSignIn(Base):
    """A sign-in through the OpenID provider under way: its state comes back once, with the code."""

    __tablename__ = "oidc_sign_ins"

    # sha256 of the state: a leaked table gives nobody a state to complete a sign-in with.
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_url: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ShareLink(UUIDPrimaryKey, Base):
    """A revocable, expiring grant for a guest to view one object."""

    __tablename__ = "share_links"

    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class RevokedToken(Base):
    """A signed-out token, refused until it would have expired anyway (then the row goes too)."""

    __tablename__ = "revoked_tokens"

    # The token's jti claim.
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
