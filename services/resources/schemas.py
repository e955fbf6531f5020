"""What the resources API accepts and returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.resources import curriculum
from storage.blobs.base import MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE
from storage.models.identity import PublicationStatus, Visibility
from storage.models.resources import FilePurpose, ProcessingStatus, ResourceType

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Description = Annotated[str, Field(max_length=20_000)]
# 磨课 takes a handful of rounds; the bound keeps numbers far inside every integer column.
MAX_ROUND_NUMBER = 1000
RoundNumber = Annotated[int, Field(ge=1, le=MAX_ROUND_NUMBER)]
# Column widths of resources.edition and resource_files.language.
EDITION_LENGTH = 64
LANGUAGE_LENGTH = 16


class CurriculumFields(BaseModel):
    """Where a resource sits in the curriculum; names are normalized on the way in."""

    stage: Literal["小学", "初中", "高中"] | None = None
    grade: Annotated[int, Field(ge=1, le=12)] | None = None
    subject: Annotated[str, Field(max_length=32)] | None = None
    edition: Annotated[str, StringConstraints(strip_whitespace=True, max_length=EDITION_LENGTH)] | None = None
    volume: Annotated[str, Field(max_length=16)] | None = None
    unit: ShortText | None = None
    lesson: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        return curriculum.normalize_subject(value) if value else None

    @field_validator("edition")
    @classmethod
    def _edition(cls, value: str | None) -> str | None:
        if not value:
            return None
        edition = curriculum.normalize_edition(value)
        # NFKC can lengthen a name (㍿ → 株式会社); the column holds EDITION_LENGTH characters.
        if len(edition) > EDITION_LENGTH:
            raise ValueError(f"edition names are limited to {EDITION_LENGTH} characters")
        return edition

    @field_validator("volume")
    @classmethod
    def _volume(cls, value: str | None) -> str | None:
        return curriculum.normalize_volume(value) if value else None


def _unique_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    return list(dict.fromkeys(tags))


class ResourceCreate(CurriculumFields):
    title: Title
    description: Description = ""
    resource_type: ResourceType
    tags: Annotated[list[Tag], Field(max_length=20)] = Field(default_factory=list)
    visibility: Visibility = Visibility.school
    status: PublicationStatus = PublicationStatus.draft
    # Label of the first round; lesson recordings go through several (第1次试课, 第2次…).
    version_label: ShortText | None = None
    # A completed resumable upload to use as the file, instead of sending the file in this request.
    upload_id: uuid.UUID | None = None

    _tags = field_validator("tags")(_unique_tags)

    @model_validator(mode="after")
    def _stage_matches_grade(self) -> ResourceCreate:
        if self.grade is not None:
            stage = curriculum.stage_for_grade(self.grade)
            if self.stage is not None and self.stage != stage:
                raise ValueError(f"grade {self.grade} belongs to {stage}, not {self.stage}")
            self.stage = stage  # type: ignore[assignment]  # one of STAGES
        return self


class ResourceUpdate(CurriculumFields):
    title: Title | None = None
    description: Description | None = None
    resource_type: ResourceType | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    visibility: Visibility | None = None
    status: PublicationStatus | None = None

    _tags = field_validator("tags")(_unique_tags)


class VersionCreate(BaseModel):
    label: ShortText | None = None
    note: Description = ""
    upload_id: uuid.UUID | None = None


class FileCreate(BaseModel):
    purpose: Literal[FilePurpose.subtitle, FilePurpose.attachment]
    # The round the file belongs to; the newest when omitted.
    version: RoundNumber | None = None
    # A BCP 47 tag such as zh-Hans-CN.
    language: (
        Annotated[
            str,
            StringConstraints(max_length=LANGUAGE_LENGTH, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"),
        ]
        | None
    ) = None
    upload_id: uuid.UUID | None = None


class FileReplace(BaseModel):
    upload_id: uuid.UUID | None = None


class FileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    version_id: uuid.UUID
    purpose: FilePurpose
    filename: str
    format: str
    media_type: str
    category: str
    size: int
    sha256: str | None
    language: str | None
    processing_status: ProcessingStatus
    processing_error: str | None
    duration_s: float | None
    width: int | None
    height: int | None
    has_poster: bool
    page_count: int | None
    content_url: str
    created_at: datetime


class VersionRead(BaseModel):
    id: uuid.UUID
    number: int
    label: str
    note: str
    created_by_id: uuid.UUID
    created_at: datetime
    files: list[FileRead]


class ResourceSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    resource_type: ResourceType
    stage: str | None
    grade: int | None
    subject: str | None
    edition: str | None
    volume: str | None
    unit: str | None
    lesson: str | None
    tags: list[str]
    owner_id: uuid.UUID
    school_id: uuid.UUID | None
    visibility: Visibility
    status: PublicationStatus
    view_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class ResourceRead(ResourceSummary):
    description: str
    # pending while any file is still being processed, failed if one failed, else ready.
    processing_status: ProcessingStatus
    current_version: int
    versions: list[VersionRead]


class UploadCreate(BaseModel):
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    # No upper bound here: a size above the configured limits is answered 413 before it is stored.
    size: Annotated[int, Field(ge=1)]
    # Optional: checked once the upload is processed.
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)] | None = None
    part_size: Annotated[int, Field(ge=MIN_PART_SIZE, le=MAX_PART_SIZE)] | None = None


class UploadedPartRead(BaseModel):
    part_number: int
    size: int
    etag: str


class UploadRead(BaseModel):
    id: uuid.UUID
    filename: str
    size: int
    part_size: int
    part_count: int
    status: str
    expires_at: datetime
    # Parts already stored: a client that lost its connection uploads only the others.
    parts: list[UploadedPartRead]
    detected_format: str | None = None


class PartUrlsRequest(BaseModel):
    part_numbers: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_PARTS)]], Field(min_length=1, max_length=1000)
    ]


class PartUrl(BaseModel):
    part_number: int
    url: str
    method: Literal["PUT"] = "PUT"


class PartUrlsRead(BaseModel):
    expires_at: datetime
    urls: list[PartUrl]


class CueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    start_s: float
    end_s: float
    text: str


class PageTextRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    text: str
    # "text": read from the file; "ocr": some or all of it recognised in the page's pictures (a scan,
    # a photo, a slide's screenshot, a page whose own text was garbage).
    source: Literal["text", "ocr"] = "text"
    # OCR's mean confidence (0..1); null for text read from the file.
    confidence: float | None = None
