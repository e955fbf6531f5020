"""Subject types a review request can be about. Adding one (collections) is one `register` call.

A subject type tells review how to read what a request is about (owner, school, subject, stage,
title, the visibility it shows now), how to grant the requested visibility on approval, and what to
do on a rejection or return; everything else (queue, decisions, audit trail, statistics, who may
review) is the same for every type.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import Visibility


@dataclass(frozen=True)
class SubjectInfo:
    """What review needs to know about a subject; copied onto its request when (re)submitted."""

    subject_type: str
    subject_id: uuid.UUID
    owner_id: uuid.UUID
    school_id: uuid.UUID | None
    title: str
    subject: str | None  # 学科, e.g. 语文: which research leads review it
    stage: str | None  # 学段, e.g. 小学
    kind: str | None  # e.g. the resource type (courseware…), a queue filter
    visibility: Visibility  # what it shows now (its effective visibility)


@dataclass(frozen=True)
class SubjectType:
    # The subject, or None when it is gone (deleted since it was submitted).
    load: Callable[[AsyncSession, uuid.UUID], Awaitable[SubjectInfo | None]]
    # Show it to the granted visibility (and have search follow: enqueue its reindex).
    approve: Callable[[AsyncSession, uuid.UUID, Visibility], Awaitable[None]]
    # Rejected or returned (with the reviewer's reason): it stays at the given (effective) visibility;
    # undo nothing else.
    reject: Callable[[AsyncSession, uuid.UUID, Visibility, str], Awaitable[None]]
    # Where its page is, for notifications and the queue (a site path).
    page_url: Callable[[uuid.UUID], str]
    # What the queue calls it, e.g. 资源.
    label: str


SUBJECT_TYPES: dict[str, SubjectType] = {}


def register(name: str, subject_type: SubjectType) -> None:
    SUBJECT_TYPES[name] = subject_type


def subject_type(name: str) -> SubjectType | None:
    return SUBJECT_TYPES.get(name)
