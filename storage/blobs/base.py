"""The object-storage interface every blob backend implements, and what they share."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

# Keys are minted by Jiaoyun, never derived from user-supplied names or paths.
_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]*(/[a-z0-9][a-z0-9_\-.]*)*$")

# S3 requires every part but the last to be at least 5 MiB.
MIN_PART_SIZE = 5 * 1024 * 1024
# Jiaoyun's own ceiling (S3 allows 5 GiB): one part is what a request handles, so it stays small.
MAX_PART_SIZE = 64 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000


class BlobError(Exception):
    pass


class BlobNotFound(BlobError):
    pass


class BlobStoreUnavailable(BlobError):
    pass


class BlobBusy(BlobError):
    """The store is relaying as many transfers as this process allows: try again shortly."""


class InvalidBlobRequest(BlobError):
    """A request the store refuses: bad key, bad range, unknown upload, parts that do not fit."""


@dataclass(frozen=True)
class BlobStat:
    key: str
    size: int
    etag: str
    content_type: str
    last_modified: datetime
    # When the store knows it without reading the object again: the local store hashes everything it
    # writes, parts assembled included. S3 assembles multipart uploads server-side, so None there.
    sha256: str | None = None


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    sha256: str
    etag: str


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int


@dataclass(frozen=True)
class PendingMultipartUpload:
    """A multipart upload neither completed nor aborted, and when it was last used."""

    key: str
    upload_id: str
    # Its start, or the last part stored, whichever came later.
    last_activity: datetime


def new_blob_key(prefix: str) -> str:
    now = datetime.now(UTC)
    return f"{prefix}/{now:%Y/%m}/{uuid.uuid4().hex}"


def validate_key(key: str) -> str:
    if len(key) > 512 or ".." in key or not _KEY_PATTERN.fullmatch(key):
        raise InvalidBlobRequest(f"invalid blob key: {key!r}")
    return key


def validate_part_number(part_number: int) -> int:
    if not 1 <= part_number <= MAX_PARTS:
        raise InvalidBlobRequest(f"part number must be between 1 and {MAX_PARTS}")
    return part_number


def validate_part_size(size: int) -> int:
    if not 0 <= size <= MAX_PART_SIZE:
        raise InvalidBlobRequest(f"a part holds at most {MAX_PART_SIZE} bytes")
    return size


def part_length_error(part_number: int, size: int) -> InvalidBlobRequest:
    return InvalidBlobRequest(f"part {part_number} must be exactly {size} bytes")


def resolve_range(size: int, start: int | None, end: int | None) -> tuple[int, int]:
    """Turn an optional inclusive byte range into concrete bounds, HTTP Range style."""
    first = 0 if start is None else start
    last = size - 1 if end is None else min(end, size - 1)
    if first < 0 or (size > 0 and first >= size) or last < first - 1 or (size == 0 and first > 0):
        raise InvalidBlobRequest(f"range {start}-{end} not satisfiable for size {size}")
    return first, last


class HashingCounter:
    """Tracks sha256 and size of a stream as it passes through."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._sha256.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


@runtime_checkable
class BlobStore(Protocol):
    """Streaming object storage. All methods are async; implementations never block the event loop."""

    name: str

    async def ensure_ready(self) -> None:
        """Create the bucket or directory if missing."""

    async def ping(self) -> None:
        """Raise BlobStoreUnavailable if the store cannot be reached."""

    async def close(self) -> None:
        """Release what the store holds between calls (connections); it is not used afterwards."""

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str = "application/octet-stream"
    ) -> StoredBlob:
        """Store a stream of unknown length in bounded memory; returns its size and sha256."""
        ...

    def get(self, key: str, *, start: int | None = None, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream the object, or the inclusive byte range start..end of it."""
        ...

    async def stat(self, key: str) -> BlobStat: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Delete; deleting a missing key is not an error."""

    def list_keys(self, prefix: str = "") -> AsyncIterator[str]: ...

    async def presigned_get_url(
        self,
        key: str,
        *,
        expires: timedelta,
        download_name: str | None = None,
        content_type: str | None = None,
    ) -> str: ...

    async def presigned_put_url(self, key: str, *, expires: timedelta) -> str: ...

    async def create_multipart_upload(self, key: str, *, content_type: str) -> str:
        """Start a multipart upload and return its upload id."""
        ...

    async def upload_part(
        self, key: str, upload_id: str, part_number: int, chunks: AsyncIterable[bytes], *, size: int
    ) -> UploadedPart:
        """Store one part of exactly `size` bytes (at most MAX_PART_SIZE), streamed from `chunks`;
        uploading the same part number again replaces it (retry safe). A stream of another length is
        refused with InvalidBlobRequest and stores nothing, leaving an earlier copy of the part."""
        ...

    async def presigned_upload_part_url(
        self, key: str, upload_id: str, part_number: int, *, expires: timedelta
    ) -> str: ...

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]: ...

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: list[UploadedPart]
    ) -> BlobStat:
        """Assemble the parts into the object; InvalidBlobRequest once the upload is unknown (never
        started, aborted, or completed already)."""
        ...

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None: ...

    def idle_multipart_uploads(self, idle_since: datetime) -> AsyncIterator[PendingMultipartUpload]:
        """Multipart uploads unused (no start, no part stored) since idle_since: what a killed put or an
        abandoned resumable upload leaves. list_keys never shows them, yet their parts take space."""
        ...

    async def remove_temporary_files(self, older_than: datetime) -> int:
        """Remove what writes that never finished left behind (a put or an assembly killed midway),
        untouched since older_than; returns how many. S3 keeps none: its leftovers are multipart
        uploads."""
        ...
