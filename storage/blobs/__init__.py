"""Object storage: one interface, a local-disk and an S3 (MinIO) implementation."""

from storage.blobs.base import (
    BlobError,
    BlobNotFound,
    BlobStat,
    BlobStore,
    BlobStoreUnavailable,
    InvalidBlobRequest,
    StoredBlob,
    UploadedPart,
    new_blob_key,
)

__all__ = [
    "BlobError",
    "BlobNotFound",
    "BlobStat",
    "BlobStore",
    "BlobStoreUnavailable",
    "InvalidBlobRequest",
    "StoredBlob",
    "UploadedPart",
    "new_blob_key",
]
