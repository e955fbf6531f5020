"""Factories: build valid objects with sensible defaults, overriding only what a test cares about."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import DocKind, SearchDocument
from services.identity.passwords import hash_password
from storage.models.identity import PublicationStatus, Role, School, User, Visibility
from storage.models.research import Topic
from storage.models.resources import (
    FilePurpose,
    ProcessingStatus,
    Resource,
    ResourceFile,
    ResourceType,
    ResourceVersion,
)

_sequence = itertools.count(1)
_EPOCH = datetime(2026, 9, 1, tzinfo=UTC)


def search_document(**overrides: Any) -> SearchDocument:
    number = next(_sequence)
    values: dict[str, Any] = {
        "id": f"resource:{number}",
        "kind": DocKind.resource,
        "parent_id": f"resource:{number}",
        "title": f"资源 {number}",
        "body": "",
        "stage": "小学",
        "grade": "2",
        "subject": "语文",
        "edition": "人教版",
        "resource_type": "courseware",
        "school_id": "school-a",
        "owner_id": "teacher-a",
        "visibility": "public",
        "status": "published",
        "created_at": _EPOCH + timedelta(minutes=number),
    }
    values.update(overrides)
    if "parent_id" not in overrides and "id" in overrides:
        values["parent_id"] = overrides["id"]
    return SearchDocument(**values)


# -- people --------------------------------------------------------------------------------------

DEFAULT_PASSWORD = "correct-horse-battery"
_PASSWORD_HASH: str | None = None


def _password_hash() -> str:
    # argon2 is slow on purpose; one hash serves every factory-made user.
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(DEFAULT_PASSWORD)
    return _PASSWORD_HASH


async def make_school(session: AsyncSession, **overrides: Any) -> School:
    number = next(_sequence)
    school = School(
        **{"name": f"金水区第{number}小学", "code": f"S{number:04d}", "stages": "小学", **overrides}
    )
    session.add(school)
    await session.flush()
    return school


async def make_user(
    session: AsyncSession, role: Role = Role.teacher, school: School | None = None, **overrides: Any
) -> User:
    number = next(_sequence)
    user = User(
        **{
            "username": f"user{number}",
            "display_name": f"用户{number}",
            "password_hash": _password_hash(),
            "role": role,
            "school_id": school.id if school else None,
            **overrides,
        }
    )
    session.add(user)
    await session.flush()
    return user


async def token_for(
    client: httpx.AsyncClient, user: User, password: str = DEFAULT_PASSWORD
) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": user.username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# -- resources -----------------------------------------------------------------------------------


def resource_metadata(**overrides: Any) -> dict[str, Any]:
    number = next(_sequence)
    return {
        "title": f"树和喜鹊 第{number}课时",
        "description": "二年级下册识字课",
        "resource_type": "courseware",
        "grade": 2,
        "subject": "语文",
        "edition": "人教版",
        "volume": "下册",
        "unit": "第一单元",
        "tags": ["识字"],
        "visibility": "school",
        "status": "published",
        **overrides,
    }


async def make_resource(
    session: AsyncSession,
    owner: User,
    visibility: Visibility = Visibility.school,
    status: PublicationStatus = PublicationStatus.published,
    **overrides: Any,
) -> Resource:
    """A resource row with its first round and no file, for tests about who may do what (no upload)."""
    number = next(_sequence)
    resource = Resource(
        **{
            "title": f"树和喜鹊 第{number}课时",
            "resource_type": ResourceType.lesson_record,
            "grade": 2,
            "stage": "小学",
            "subject": "语文",
            "tags": [],
            "owner_id": owner.id,
            "school_id": owner.school_id,
            "visibility": visibility,
            "status": status,
            **overrides,
        }
    )
    session.add(resource)
    await session.flush()
    session.add(ResourceVersion(resource_id=resource.id, number=1, label="第1次试课", created_by_id=owner.id))
    await session.flush()
    return resource


async def make_video_file(
    session: AsyncSession, resource: Resource, duration_s: float = 20.0
) -> ResourceFile:
    """A processed video row in the resource's newest round, with no content stored: enough for
    watch reports and progress, which never read the bytes."""
    version = await session.scalar(
        select(ResourceVersion)
        .where(ResourceVersion.resource_id == resource.id)
        .order_by(ResourceVersion.number.desc())
        .limit(1)
    )
    assert version is not None
    file = ResourceFile(
        resource_id=resource.id,
        version_id=version.id,
        purpose=FilePurpose.primary,
        filename="微课.mp4",
        format="mp4",
        media_type="video/mp4",
        category="video",
        size=1000,
        blob_key=f"test/video-{next(_sequence)}-{resource.id}",
        processing_status=ProcessingStatus.ready,
        duration_s=duration_s,
    )
    session.add(file)
    await session.flush()
    return file


async def make_topic(session: AsyncSession, owner: User, **overrides: Any) -> Topic:
    number = next(_sequence)
    topic = Topic(
        **{
            "title": f"研讨 {number}",
            "owner_id": owner.id,
            "school_id": owner.school_id,
            "visibility": Visibility.school,
            **overrides,
        }
    )
    session.add(topic)
    await session.flush()
    return topic


def upload_form(
    metadata: dict[str, Any] | None, filename: str, content: bytes, *, metadata_first: bool = True
) -> dict[str, tuple[str | None, bytes | str, str]]:
    """multipart fields for httpx's ``files=``, in order (httpx keeps the dict's order)."""
    file_part = ("file", (filename, content, "application/octet-stream"))
    fields: list[tuple[str, tuple[str | None, bytes | str, str]]] = []
    if metadata is not None:
        fields.append(("metadata", (None, json.dumps(metadata, ensure_ascii=False), "application/json")))
    if metadata_first:
        fields.append(file_part)
    else:
        fields.insert(0, file_part)
    return dict(fields)
