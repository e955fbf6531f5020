from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from storage.models.identity import Role

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{3,64}$")]
Password = Annotated[str, Field(min_length=8, max_length=128)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int


class SchoolCreate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    stages: Annotated[str, Field(max_length=64)] = ""


class SchoolUpdate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    stages: Annotated[str, Field(max_length=64)] | None = None


class SchoolRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    code: str | None
    stages: str
    created_at: datetime


class UserCreate(BaseModel):
    username: Username
    display_name: DisplayName
    password: Password
    role: Role
    school_id: uuid.UUID | None = None


class UserUpdate(BaseModel):
    display_name: DisplayName | None = None
    role: Role | None = None
    school_id: uuid.UUID | None = None
    is_active: bool | None = None
    password: Password | None = None


class PasswordChange(BaseModel):
    current_password: Annotated[str, Field(max_length=128)]
    new_password: Password


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    school_id: uuid.UUID | None
    is_active: bool
    created_at: datetime


class PersonRead(BaseModel):
    """What colleagues see of each other: enough to @mention someone."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str


class ShareLinkCreate(BaseModel):
    object_type: Annotated[str, Field(max_length=32)]
    object_id: uuid.UUID
    expires_in_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 72


class ShareLinkRead(BaseModel):
    id: uuid.UUID
    object_type: str
    object_id: uuid.UUID
    expires_at: datetime
    revoked: bool
    token: str | None = None
