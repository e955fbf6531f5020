"""Blobs in MinIO or any S3 service, through the official `minio` client.

The minio SDK is synchronous, so every call runs in a worker thread. Parts are sent with the SDK's
public presigned URLs and httpx, streamed (the SDK's own part upload takes the whole part in memory
and is not public). Its other multipart calls are underscore-prefixed but are the SDK's own S3
operations; they are wrapped here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import urllib3
from anyio import to_thread
from minio import Minio
from minio.datatypes import Part
from minio.error import MinioException, S3Error

from storage.blobs.base import (
    DEFAULT_PART_SIZE,
    BlobBusy,
    BlobNotFound,
    BlobStat,
    BlobStoreUnavailable,
    HashingCounter,
    InvalidBlobRequest,
    PendingMultipartUpload,
    StoredBlob,
    UploadedPart,
    part_length_error,
    resolve_range,
    validate_key,
    validate_part_number,
    validate_part_size,
)

READ_CHUNK = 256 * 1024
LIST_BATCH = 1000
# A part's presigned URL is used at once, by this process; it only has to outlive the transfer.
PART_URL_TTL = timedelta(hours=1)
DEFAULT_MAX_CONCURRENT_PARTS = 32
T = TypeVar("T")

_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}
_INVALID_CODES = {"NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall", "InvalidRange"}


def make_minio_client(endpoint: str, access_key: str, secret_key: str, region: str) -> Minio:
    url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    http_client = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=3.0, read=60.0),
        # Fail fast when the store is down: callers answer 503 instead of hanging.
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        maxsize=32,
    )
    return Minio(
        url.netloc,
        access_key=access_key,
        secret_key=secret_key,
        secure=url.scheme == "https",
        region=region,
        http_client=http_client,
    )


def content_disposition(download_name: str) -> str:
    ascii_fallback = download_name.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_fallback}\"; filename*=UTF-8''{quote(download_name)}"


class S3BlobStore:
    name = "s3"

    def __init__(
        self,
        client: Minio,
        bucket: str,
        *,
        presign_client: Minio | None = None,
        max_concurrent_parts: int = DEFAULT_MAX_CONCURRENT_PARTS,
    ) -> None:
        self.client = client
        self.bucket = bucket
        # Presigned URLs must name the host browsers reach, which may differ from the internal one.
        self._presign_client = presign_client or client
        # Parts stream through this process to the store; this bounds how many at once (each holds a
        # connection and a chunk or two), so a crowd of uploaders gets 503s instead of the process
        # running out of connections or memory.
        self._part_slots = asyncio.Semaphore(max_concurrent_parts)
        self._relaying = 0
        self._http_client: httpx.AsyncClient | None = None

    @property
    def _http(self) -> httpx.AsyncClient:
        """Made with the first part relayed: an API process that receives no upload does not keep its
        TLS context (~2 MiB with certifi's CAs; issue 19: idle memory)."""
        if self._http_client is None:
            self._http_client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=3.0))
        return self._http_client

    async def close(self) -> None:
        if self._http_client is not None:
            await self._http_client.aclose()

    @property
    def relaying_parts(self) -> bool:
        """Whether any part is on its way through this process to the store."""
        return self._relaying > 0

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def invoke() -> T:
            return function(*args, **kwargs)

        try:
            return await to_thread.run_sync(invoke)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise BlobNotFound(str(exc.code)) from exc
            if exc.code in _INVALID_CODES:
                raise InvalidBlobRequest(str(exc.code)) from exc
            # AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, SlowDown…: the store is there but
            # will not serve us (wrong keys, a policy, overload). Nothing the caller asked for is wrong.
            raise BlobStoreUnavailable(f"object storage refused the request: {exc.code}") from exc
        except MinioException as exc:
            # ServerError (5xx after the retries) and InvalidResponseError (not S3 at all: a proxy's
            # error page, a wrong endpoint).
            raise BlobStoreUnavailable(f"object storage failed: {exc}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise BlobStoreUnavailable(f"object storage unreachable: {exc}") from exc

    def _make_bucket_unless_it_exists(self) -> None:
        try:
            self.client.make_bucket(self.bucket)
        except S3Error as exc:
            # Another replica created it first.
            if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise

    async def ensure_ready(self) -> None:
        if not await self._call(self.client.bucket_exists, self.bucket):
            await self._call(self._make_bucket_unless_it_exists)

    async def ping(self) -> None:
        if not await self._call(self.client.bucket_exists, self.bucket):
            raise BlobStoreUnavailable(f"bucket {self.bucket} does not exist")

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str = "application/octet-stream"
    ) -> StoredBlob:
        """Stream to S3 with one part uploading while the next one fills: at most two parts in memory.

        Each byte is copied once here, into the part's buffer, and hashed once, a whole part at a time
        in a worker thread (hashlib lets go of the GIL) while the event loop receives the next part;
        the part goes out with an unsigned payload, so nothing hashes it again (issue 19).
        """
        validate_key(key)
        counter = HashingCounter()
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[UploadedPart] = []
        in_flight: asyncio.Task[UploadedPart] | None = None
        hashing: asyncio.Future[None] | None = None

        async def hash_in_order(data: bytearray, previous: asyncio.Future[None] | None) -> None:
            if previous is not None:
                await previous
            await to_thread.run_sync(counter.update, data)

        async def send(data: bytearray) -> None:
            nonlocal upload_id, in_flight, hashing
            hashing = asyncio.ensure_future(hash_in_order(data, hashing))
            if upload_id is None:
                upload_id = await self.create_multipart_upload(key, content_type=content_type)
            if in_flight is not None:
                parts.append(await in_flight)
            in_flight = asyncio.create_task(self._upload_part_bytes(key, upload_id, len(parts) + 1, data))

        try:
            async for chunk in chunks:
                view = memoryview(chunk)
                while len(buffer) + len(view) >= DEFAULT_PART_SIZE:
                    room = DEFAULT_PART_SIZE - len(buffer)
                    buffer += view[:room]
                    view = view[room:]
                    # The full buffer is handed over whole (no copy) and a new one starts.
                    full, buffer = buffer, bytearray()
                    await send(full)
                buffer += view
            if upload_id is None:
                counter.update(buffer)
                result = await self._call(
                    self.client.put_object,
                    self.bucket,
                    key,
                    io.BytesIO(buffer),
                    len(buffer),
                    content_type=content_type,
                )
                etag = str(result.etag)
            else:
                if buffer:
                    await send(buffer)
                assert in_flight is not None
                parts.append(await in_flight)
                in_flight = None
                etag = (await self.complete_multipart_upload(key, upload_id, parts)).etag
            if hashing is not None:
                await hashing
        except BaseException:
            for task in (in_flight, hashing):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            if upload_id is not None:
                await self.abort_multipart_upload(key, upload_id)
            raise
        return StoredBlob(key=key, size=counter.size, sha256=counter.sha256, etag=etag)

    async def get(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        validate_key(key)
        size = (await self.stat(key)).size
        first, last = resolve_range(size, start, end)
        if last < first:
            return
        response = await self._call(self.client.get_object, self.bucket, key, first, last - first + 1)
        try:
            stream: Iterator[bytes] = response.stream(READ_CHUNK)
            while True:
                chunk = await self._call(next, stream, b"")
                if not chunk:
                    break
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def stat(self, key: str) -> BlobStat:
        validate_key(key)
        result = await self._call(self.client.stat_object, self.bucket, key)
        return BlobStat(
            key=key,
            size=int(result.size or 0),
            etag=str(result.etag),
            content_type=str(result.content_type),
            last_modified=result.last_modified or datetime.now(UTC),
        )

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except BlobNotFound:
            return False
        return True

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._call(self.client.remove_object, self.bucket, key)

    async def list_keys(self, prefix: str = "") -> AsyncIterator[str]:
        objects = self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True)

        def next_batch() -> list[str]:
            batch = []
            for item in objects:
                batch.append(str(item.object_name))
                if len(batch) >= LIST_BATCH:
                    break
            return batch

        while batch := await self._call(next_batch):
            for key in batch:
                yield key

    async def presigned_get_url(
        self,
        key: str,
        *,
        expires: timedelta,
        download_name: str | None = None,
        content_type: str | None = None,
    ) -> str:
        validate_key(key)
        headers: dict[str, str | list[str] | tuple[str]] = {}
        if download_name:
            headers["response-content-disposition"] = content_disposition(download_name)
        if content_type:
            headers["response-content-type"] = content_type
        return await self._call(
            self._presign_client.presigned_get_object,
            self.bucket,
            key,
            expires,
            response_headers=headers or None,
        )

    async def presigned_put_url(self, key: str, *, expires: timedelta) -> str:
        validate_key(key)
        return await self._call(self._presign_client.presigned_put_object, self.bucket, key, expires)

    async def create_multipart_upload(self, key: str, *, content_type: str) -> str:
        validate_key(key)
        return await self._call(
            self.client._create_multipart_upload, self.bucket, key, {"Content-Type": content_type}
        )

    async def upload_part(
        self, key: str, upload_id: str, part_number: int, chunks: AsyncIterable[bytes], *, size: int
    ) -> UploadedPart:
        """Stream the part to the store as it arrives: memory stays a chunk or two whatever its size.
        Sent with its length declared, so a stream that turns out longer or shorter is cut off before
        its end and the store keeps nothing of it."""
        validate_part_size(size)
        if self._part_slots.locked():
            # A client sending a part can try again; holding its request open would hold its bytes.
            raise BlobBusy("object storage is taking as many parts from this server as it may; retry shortly")
        return await self._send_part(key, upload_id, part_number, _exactly(chunks, size, part_number), size)

    async def _upload_part_bytes(
        self, key: str, upload_id: str, part_number: int, data: bytes | bytearray
    ) -> UploadedPart:
        # put's parts wait for a slot: its request body simply pauses meanwhile. Sent in slices of
        # the one buffer (views, no copies): handed over whole, the transport copied it.
        return await self._send_part(key, upload_id, part_number, _slices(data), len(data))

    async def _send_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        content: bytes | AsyncIterator[bytes],
        size: int,
    ) -> UploadedPart:
        validate_key(key)
        validate_part_number(part_number)
        async with self._part_slots:
            self._relaying += 1
            try:
                return await self._relay_part(key, upload_id, part_number, content, size)
            finally:
                self._relaying -= 1

    async def _relay_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        content: bytes | AsyncIterator[bytes],
        size: int,
    ) -> UploadedPart:
        # Signed by the SDK's public presigner for the internal endpoint; UNSIGNED-PAYLOAD, so the
        # body need not be hashed (or held) before it is sent.
        url = await self._call(
            self.client.get_presigned_url,
            "PUT",
            self.bucket,
            key,
            PART_URL_TTL,
            extra_query_params={"partNumber": str(part_number), "uploadId": upload_id},
        )
        try:
            response = await self._http.put(url, content=content, headers={"Content-Length": str(size)})
        except httpx.TransportError as exc:
            raise BlobStoreUnavailable(f"object storage unreachable: {exc}") from exc
        if response.status_code != 200:
            raise _part_refusal(response)
        etag = response.headers.get("etag", "").strip('"')
        if not etag:
            raise BlobStoreUnavailable("object storage answered a part without its ETag")
        return UploadedPart(part_number=part_number, etag=etag, size=size)

    async def presigned_upload_part_url(
        self, key: str, upload_id: str, part_number: int, *, expires: timedelta
    ) -> str:
        validate_key(key)
        validate_part_number(part_number)
        return await self._call(
            self._presign_client.get_presigned_url,
            "PUT",
            self.bucket,
            key,
            expires,
            extra_query_params={"partNumber": str(part_number), "uploadId": upload_id},
        )

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        validate_key(key)
        parts: list[UploadedPart] = []
        marker: str | None = None
        while True:
            result = await self._call(
                self.client._list_parts, self.bucket, key, upload_id, part_number_marker=marker
            )
            parts.extend(
                UploadedPart(
                    part_number=part.part_number, etag=str(part.etag).strip('"'), size=part.size or 0
                )
                for part in result.parts
            )
            if not result.is_truncated:
                return parts
            marker = str(result.next_part_number_marker)

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: list[UploadedPart]
    ) -> BlobStat:
        validate_key(key)
        if not parts:
            raise InvalidBlobRequest("no parts to complete")
        ordered = [Part(part.part_number, part.etag) for part in sorted(parts, key=lambda p: p.part_number)]
        await self._call(self.client._complete_multipart_upload, self.bucket, key, upload_id, ordered)
        return await self.stat(key)

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        validate_key(key)
        with contextlib.suppress(BlobNotFound, InvalidBlobRequest):
            await self._call(self.client._abort_multipart_upload, self.bucket, key, upload_id)

    async def idle_multipart_uploads(self, idle_since: datetime) -> AsyncIterator[PendingMultipartUpload]:
        """S3 ListMultipartUploads, then ListParts of the uploads started before idle_since (a put
        streaming for hours started long ago, but stored a part just now)."""
        key_marker: str | None = None
        upload_id_marker: str | None = None
        while True:
            result = await self._call(
                self.client._list_multipart_uploads,
                self.bucket,
                key_marker=key_marker,
                upload_id_marker=upload_id_marker,
                max_uploads=LIST_BATCH,
            )
            for upload in result.uploads:
                started = upload.initiated_time or datetime.now(UTC)
                if started >= idle_since or upload.upload_id is None:
                    continue
                last = max(started, await self._last_part_stored(upload.object_name, upload.upload_id))
                if last < idle_since:
                    yield PendingMultipartUpload(upload.object_name, upload.upload_id, last)
            if not result.is_truncated or not result.uploads:
                return
            # From the last entry: minio 7.2 drops NextUploadIdMarker when parsing the answer.
            key_marker = result.uploads[-1].object_name
            upload_id_marker = result.uploads[-1].upload_id

    async def _last_part_stored(self, key: str, upload_id: str) -> datetime:
        last = datetime.min.replace(tzinfo=UTC)
        marker: str | None = None
        while True:
            try:
                result = await self._call(
                    self.client._list_parts, self.bucket, key, upload_id, part_number_marker=marker
                )
            except InvalidBlobRequest:
                return last  # completed or aborted meanwhile
            for part in result.parts:
                if part.last_modified is not None:
                    last = max(last, part.last_modified)
            if not result.is_truncated:
                return last
            marker = str(result.next_part_number_marker)

    async def remove_temporary_files(self, older_than: datetime) -> int:
        return 0


async def _exactly(chunks: AsyncIterable[bytes], size: int, part_number: int) -> AsyncIterator[bytes]:
    """The stream, refused (InvalidBlobRequest) once longer than `size`, or shorter at its end: raised
    while the request body is being sent, so the store never receives a whole part."""
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > size:
            raise part_length_error(part_number, size)
        yield chunk
    if received != size:
        raise part_length_error(part_number, size)


async def _slices(data: bytes | bytearray) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for offset in range(0, len(data), READ_CHUNK):
        yield view[offset : offset + READ_CHUNK]  # type: ignore[misc]


def _part_refusal(response: httpx.Response) -> Exception:
    """The store's error answer to a part, as the SDK's calls would map it."""
    code = _error_code(response.text)
    if code in _INVALID_CODES or code in _NOT_FOUND_CODES:
        return InvalidBlobRequest(code)
    if response.status_code >= 500:
        return BlobStoreUnavailable(f"object storage failed: {response.status_code} {code}")
    return BlobStoreUnavailable(f"object storage refused the request: {code or response.status_code}")


def _error_code(body: str) -> str:
    # <Error><Code>NoSuchUpload</Code>…: the code is all that is needed, no XML parser for it.
    start = body.find("<Code>")
    end = body.find("</Code>", start)
    return body[start + len("<Code>") : end] if start != -1 and end != -1 else ""
