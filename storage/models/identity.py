from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.database import Base, Timestamps, UUIDPrimaryKey


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

    school: Mapped[School | None] = relationship(lazy="raise")
