"""Taking bytes in: names checked, type decided by magic bytes, size capped, streamed to the store.

Nothing here trusts the client: not its file name (only shown back on download), not its
Content-Type, not its Content-Length.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Collection
from dataclasses import dataclass

from services.errors import AppError, PayloadTooLarge, ServiceUnavailable
from services.observability import metrics
from services.resources.filetypes import (
    SNIFF_BYTES,
    DetectedType,
    FileCategory,
    detect_file_type,
    looks_like_undecodable_subtitles,
)
from services.settings import Settings
from storage.blobs.base import BlobStore, BlobStoreUnavailable, new_blob_key
from storage.models.resources import ResourceType

BLOB_PREFIX = "res"
MAX_FILENAME_LENGTH = 255

# Which kinds of file each resource type is made of.
PRIMARY_CATEGORIES: dict[ResourceType, frozenset[FileCategory]] = {
    ResourceType.lesson_record: frozenset({FileCategory.video}),
    ResourceType.micro_lesson: frozenset({FileCategory.video}),
    ResourceType.courseware: frozenset({FileCategory.document, FileCategory.video}),
    ResourceType.lesson_plan: frozenset({FileCategory.document}),
    ResourceType.study_guide: frozenset({FileCategory.document}),
    ResourceType.assignment: frozenset({FileCategory.document, FileCategory.image}),
    ResourceType.exam: frozenset({FileCategory.document, FileCategory.image}),
    ResourceType.research: frozenset({FileCategory.document, FileCategory.video, FileCategory.image}),
}
ATTACHMENT_CATEGORIES = frozenset({FileCategory.document, FileCategory.image, FileCategory.video})
SUBTITLE_CATEGORIES = frozenset({FileCategory.subtitle})


class InvalidFile(AppError):
    status_code = 422
    code = "invalid_file"


class UnsupportedFileType(AppError):
    status_code = 415
    code = "unsupported_media_type"


@dataclass(frozen=True)
class StagedBlob:
    """Bytes safely in the blob store, not yet referenced by any row."""

    key: str
    size: int
    sha256: str | None
    filename: str
    detected: DetectedType
    # What the client said the sha256 is, when it was not computed on the way in (resumable uploads
    # in S3 mode): processing checks it.
    expected_sha256: str | None = None
    # A completed resumable upload's blob: it stays the client's to use again if this request fails.
    from_upload: bool = False


def check_filename(filename: str) -> str:
    """The name as given, if it is a plain file name; paths and control characters are refused."""
    name = unicodedata.normalize("NFC", filename).strip()
    if not name:
        raise InvalidFile("The file needs a name")
    if len(name) > MAX_FILENAME_LENGTH:
        raise InvalidFile(f"File names are limited to {MAX_FILENAME_LENGTH} characters")
    if "/" in name or "\\" in name or name in {".", ".."} or name.startswith(".."):
        raise InvalidFile(f"{filename!r} is a path; send a plain file name")
    if any(unicodedata.category(char) in {"Cc", "Cf"} for char in name):
        raise InvalidFile("The file name contains control characters")
    return name


def size_limit(settings: Settings, category: FileCategory) -> int:
    megabytes = {
        FileCategory.video: settings.max_video_mb,
        FileCategory.document: settings.max_document_mb,
        FileCategory.image: settings.max_image_mb,
        FileCategory.subtitle: settings.max_subtitle_mb,
        FileCategory.audio: settings.max_audio_mb,
    }[category]
    return megabytes * 1024 * 1024


def check_type(head: bytes, filename: str, allowed: Collection[FileCategory], what: str) -> DetectedType:
    if not head:
        raise InvalidFile("The file is empty")
    detected = detect_file_type(head[:SNIFF_BYTES], filename)
    if detected is None and looks_like_undecodable_subtitles(head):
        raise UnsupportedFileType(
            f"{filename!r} looks like subtitles, but its text encoding is not one Jiaoyun reads "
            "(UTF-8, GB18030/GBK, Big5, or UTF-16 with a byte order mark): save it as UTF-8"
        )
    if detected is None:
        raise UnsupportedFileType(
            f"{filename!r} is not a file type Jiaoyun accepts (video: mp4/mov/webm/mkv/flv/avi/ts/3gp/wmv/"
            "ogv/mpg; documents: pdf/docx/pptx/xlsx/doc/ppt/xls; images: jpeg/png/gif/webp; "
            "subtitles: srt/vtt; audio, in submissions: mp3/m4a/wav/ogg)"
        )
    if detected.category not in allowed:
        kinds = "/".join(sorted(category.value for category in allowed))
        raise UnsupportedFileType(f"{what} must be {kinds}; {filename!r} is {detected.format}")
    return detected


def check_size(settings: Settings, detected: DetectedType, size: int, limit: int | None = None) -> None:
    limit = size_limit(settings, detected.category) if limit is None else limit
    if size > limit:
        raise PayloadTooLarge(
            f"{detected.category.value} files are limited to {limit // (1024 * 1024)} MB",
            details=[{"limit_bytes": limit}],
        )


async def _read_head(chunks: AsyncIterator[bytes]) -> tuple[bytes, bool]:
    """Up to SNIFF_BYTES from the stream, and whether the stream ended within them."""
    head = bytearray()
    async for chunk in chunks:
        head.extend(chunk)
        if len(head) >= SNIFF_BYTES:
            return bytes(head), False
    return bytes(head), True


async def stream_to_store(
    store: BlobStore,
    settings: Settings,
    *,
    filename: str,
    chunks: AsyncIterable[bytes],
    allowed: Collection[FileCategory],
    what: str = "The file",
    key_prefix: str = BLOB_PREFIX,
    max_bytes: int | None = None,
) -> StagedBlob:
    """Check and store a file arriving as a stream, in constant memory; nothing is left on failure.
    `max_bytes` lowers the limit of the file's category (students' submissions have their own)."""
    name = check_filename(filename)
    iterator = aiter(chunks)
    head, ended = await _read_head(iterator)
    detected = check_type(head, name, allowed, what)
    limit = size_limit(settings, detected.category)
    if max_bytes is not None:
        limit = min(limit, max_bytes)
    check_size(settings, detected, len(head), limit)

    async def checked() -> AsyncIterator[bytes]:
        received = len(head)
        yield head
        if ended:
            return
        async for chunk in iterator:
            received += len(chunk)
            if received > limit:
                # Raised inside the store's put, which aborts and removes what it wrote.
                check_size(settings, detected, received, limit)
            yield chunk

    started = time.perf_counter()
    try:
        stored = await store.put(new_blob_key(key_prefix), checked(), content_type=detected.media_type)
    except BlobStoreUnavailable as exc:
        raise ServiceUnavailable("Object storage is unavailable, try again shortly") from exc
    metrics.record_upload("direct", stored.size, time.perf_counter() - started)
    return StagedBlob(
        key=stored.key, size=stored.size, sha256=stored.sha256, filename=name, detected=detected
    )
