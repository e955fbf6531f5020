from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.schemas import Omittable
from storage.models.identity import Role

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{3,64}$")]
Password = Annotated[str, Field(min_length=8, max_length=128)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int


SchoolName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SchoolCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Stages = Annotated[str, Field(max_length=64)]


class SchoolCreate(BaseModel):
    name: SchoolName
    code: SchoolCode | None = None
    stages: Stages = ""


class SchoolUpdate(BaseModel):
    name: Omittable[SchoolName] = None
    # null removes the code (schools need not have one).
    code: SchoolCode | None = None
    stages: Omittable[Stages] = None


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
    display_name: Omittable[DisplayName] = None
    role: Omittable[Role] = None
    # null takes the user out of any school (district admins and research leads have none).
    school_id: uuid.UUID | None = None
    is_active: Omittable[bool] = None
    password: Omittable[Password] = None


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
    created_at: datetime
    expires_at: datetime
    revoked: bool
    # Who made it; in lists only.
    created_by: PersonRead | None = None
    # Only for the link's creator: anyone else sees that a link exists, not the link itself.
    token: str | None = None
