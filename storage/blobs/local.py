"""Blobs on local disk: the embedded default. Presigned links are HMAC-signed URLs served by the API."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from anyio import to_thread

from storage.blobs.base import (
    BlobNotFound,
    BlobStat,
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
from storage.blobs.signing import LinkClaims, LinkSigner

READ_CHUNK = 256 * 1024
SIGNED_LINK_PATH = "/api/v1/blobs/signed/"


class LocalBlobStore:
    name = "local"

    def __init__(self, root: Path, *, signer: LinkSigner, public_base_url: str) -> None:
        self.root = root.resolve()
        self._objects = self.root / "objects"
        self._meta = self.root / "meta"
        self._multipart = self.root / "multipart"
        self._tmp = self.root / "tmp"
        self.signer = signer
        self._base_url = public_base_url.rstrip("/")

    def _object_path(self, key: str) -> Path:
        # Pure path arithmetic, no filesystem access (it runs on the event loop): a minted key has
        # no "..", no leading "/" and no segment starting with ".", so it cannot lead outside.
        return self._objects / validate_key(key)

    def _meta_path(self, key: str) -> Path:
        return self._meta / f"{validate_key(key)}.json"

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        validate_key(key)
        try:
            canonical = uuid.UUID(hex=upload_id).hex
        except ValueError as exc:
            raise InvalidBlobRequest("unknown upload id") from exc
        directory = self._multipart / canonical
        manifest = directory / "upload.json"
        if not manifest.is_file() or json.loads(manifest.read_text())["key"] != key:
            raise InvalidBlobRequest("unknown upload id")
        return directory

    async def ensure_ready(self) -> None:
        def make_dirs() -> None:
            for directory in (self._objects, self._meta, self._multipart, self._tmp):
                directory.mkdir(parents=True, exist_ok=True)

        await to_thread.run_sync(make_dirs)

    async def ping(self) -> None:
        await self.ensure_ready()

    async def close(self) -> None:
        # Every file is opened and closed within its call: nothing is held between calls.
        return None

    def _commit_file(self, tmp_path: Path, key: str, content_type: str, etag: str) -> None:
        target = self._object_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        meta = self._meta_path(key)
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"content_type": content_type, "etag": etag}))
        os.replace(tmp_path, target)

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str = "application/octet-stream"
    ) -> StoredBlob:
        self._object_path(key)
        await self.ensure_ready()
        tmp_path = self._tmp / uuid.uuid4().hex
        counter = HashingCounter()
        handle = await to_thread.run_sync(tmp_path.open, "wb")

        def hash_and_write(chunk: bytes) -> None:
            # In the thread with the write: hashing a big chunk is no less blocking than writing it.
            counter.update(chunk)
            handle.write(chunk)

        try:
            async for chunk in chunks:
                await to_thread.run_sync(hash_and_write, chunk)
            await to_thread.run_sync(handle.close)
            await to_thread.run_sync(self._commit_file, tmp_path, key, content_type, counter.sha256)
        except BaseException:
            handle.close()
            tmp_path.unlink(missing_ok=True)
            raise
        return StoredBlob(key=key, size=counter.size, sha256=counter.sha256, etag=counter.sha256)

    async def get(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._object_path(key)
        try:
            handle = await to_thread.run_sync(path.open, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        try:
            size = (await to_thread.run_sync(os.fstat, handle.fileno())).st_size
            first, last = resolve_range(size, start, end)
            await to_thread.run_sync(handle.seek, first)
            remaining = last - first + 1
            while remaining > 0:
                chunk = await to_thread.run_sync(handle.read, min(READ_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def stat(self, key: str) -> BlobStat:
        path = self._object_path(key)

        def read_stat() -> BlobStat:
            try:
                file_stat = path.stat()
                meta = json.loads(self._meta_path(key).read_text())
            except FileNotFoundError as exc:
                raise BlobNotFound(key) from exc
            return BlobStat(
                key=key,
                size=file_stat.st_size,
                etag=meta["etag"],
                content_type=meta["content_type"],
                last_modified=datetime.fromtimestamp(file_stat.st_mtime, UTC),
                # Objects here are written by put or assembled, both hashing as they go.
                sha256=meta["etag"],
            )

        return await to_thread.run_sync(read_stat)

    async def exists(self, key: str) -> bool:
        return await to_thread.run_sync(self._object_path(key).is_file)

    async def delete(self, key: str) -> None:
        path = self._object_path(key)

        def remove() -> None:
            path.unlink(missing_ok=True)
            self._meta_path(key).unlink(missing_ok=True)

        await to_thread.run_sync(remove)

    async def list_keys(self, prefix: str = "") -> AsyncIterator[str]:
        def walk() -> list[str]:
            if not self._objects.is_dir():
                return []
            keys = [path.relative_to(self._objects).as_posix() for path in self._objects.rglob("*")]
            return sorted(key for key in keys if key.startswith(prefix) and (self._objects / key).is_file())

        for key in await to_thread.run_sync(walk):
            yield key

    def _link(self, claims: LinkClaims) -> str:
        return f"{self._base_url}{SIGNED_LINK_PATH}{quote(self.signer.sign(claims))}"

    async def presigned_get_url(
        self,
        key: str,
        *,
        expires: timedelta,
        download_name: str | None = None,
        content_type: str | None = None,
    ) -> str:
        # Local links are served by the API with the type stored at put time; content_type is for S3.
        validate_key(key)
        expires_at = int(time.time() + expires.total_seconds())
        return self._link(LinkClaims("GET", key, expires_at, download_name=download_name))

    async def presigned_put_url(self, key: str, *, expires: timedelta) -> str:
        validate_key(key)
        return self._link(LinkClaims("PUT", key, int(time.time() + expires.total_seconds())))

    async def create_multipart_upload(self, key: str, *, content_type: str) -> str:
        validate_key(key)
        await self.ensure_ready()
        upload_id = uuid.uuid4().hex

        def create() -> None:
            directory = self._multipart / upload_id
            directory.mkdir()
            manifest = {"key": key, "content_type": content_type, "created": time.time()}
            (directory / "upload.json").write_text(json.dumps(manifest))

        await to_thread.run_sync(create)
        return upload_id

    async def upload_part(
        self, key: str, upload_id: str, part_number: int, chunks: AsyncIterable[bytes], *, size: int
    ) -> UploadedPart:
        validate_part_number(part_number)
        validate_part_size(size)
        directory = await to_thread.run_sync(self._upload_dir, key, upload_id)
        tmp = directory / f"{part_number:05d}.{uuid.uuid4().hex}.tmp"
        digest = hashlib.md5(usedforsecurity=False)
        handle = await to_thread.run_sync(tmp.open, "wb")

        def write(chunk: bytes) -> None:
            digest.update(chunk)
            handle.write(chunk)

        written = 0
        try:
            async for chunk in chunks:
                written += len(chunk)
                if written > size:
                    raise part_length_error(part_number, size)
                await to_thread.run_sync(write, chunk)
            if written != size:
                raise part_length_error(part_number, size)
            await to_thread.run_sync(handle.close)
            await to_thread.run_sync(_write_part_checksum, directory, part_number, tmp, digest.hexdigest())
            # Atomic replace: a retried part never leaves a half-written file behind.
            await to_thread.run_sync(os.replace, tmp, directory / f"{part_number:05d}.part")
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise
        return UploadedPart(part_number=part_number, etag=digest.hexdigest(), size=size)

    async def presigned_upload_part_url(
        self, key: str, upload_id: str, part_number: int, *, expires: timedelta
    ) -> str:
        validate_part_number(part_number)
        await to_thread.run_sync(self._upload_dir, key, upload_id)
        expires_at = int(time.time() + expires.total_seconds())
        return self._link(LinkClaims("PART", key, expires_at, upload_id=upload_id, part_number=part_number))

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        directory = await to_thread.run_sync(self._upload_dir, key, upload_id)

        def read_parts() -> list[UploadedPart]:
            parts = []
            for path in sorted(directory.glob("*.part")):
                file_stat = path.stat()
                etag = _recorded_checksum(path, file_stat) or _md5_of(path)
                parts.append(UploadedPart(part_number=int(path.stem), etag=etag, size=file_stat.st_size))
            return parts

        return await to_thread.run_sync(read_parts)

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: list[UploadedPart]
    ) -> BlobStat:
        directory = await to_thread.run_sync(self._upload_dir, key, upload_id)
        stored = {part.part_number: part for part in await self.list_parts(key, upload_id)}
        ordered = sorted(parts, key=lambda part: part.part_number)
        if not ordered:
            raise InvalidBlobRequest("no parts to complete")
        for part in ordered:
            existing = stored.get(part.part_number)
            if existing is None or existing.etag.strip('"') != part.etag.strip('"'):
                raise InvalidBlobRequest(f"part {part.part_number} is missing or does not match")
        manifest = await to_thread.run_sync((directory / "upload.json").read_text)
        content_type = json.loads(manifest)["content_type"]

        def assemble() -> None:
            tmp_path = self._tmp / uuid.uuid4().hex
            digest = hashlib.sha256()
            with tmp_path.open("wb") as out:
                for part in ordered:
                    with (directory / f"{part.part_number:05d}.part").open("rb") as handle:
                        while block := handle.read(READ_CHUNK):
                            digest.update(block)
                            out.write(block)
            self._commit_file(tmp_path, key, content_type, digest.hexdigest())
            shutil.rmtree(directory, ignore_errors=True)

        await to_thread.run_sync(assemble)
        return await self.stat(key)

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        try:
            directory = await to_thread.run_sync(self._upload_dir, key, upload_id)
        except InvalidBlobRequest:
            return
        await to_thread.run_sync(shutil.rmtree, directory, True)

    async def idle_multipart_uploads(self, idle_since: datetime) -> AsyncIterator[PendingMultipartUpload]:
        cutoff = idle_since.timestamp()

        def scan() -> list[PendingMultipartUpload]:
            found = []
            for directory in _entries(self._multipart):
                try:
                    key = json.loads((directory / "upload.json").read_text())["key"]
                    # Every part (and part being written) touches its own file.
                    last = max(entry.stat().st_mtime for entry in directory.iterdir())
                except (OSError, ValueError, KeyError):
                    continue  # completed or aborted meanwhile, or no manifest: see remove_temporary_files
                if last < cutoff:
                    found.append(
                        PendingMultipartUpload(key, directory.name, datetime.fromtimestamp(last, UTC))
                    )
            return found

        for pending in await to_thread.run_sync(scan):
            yield pending

    async def remove_temporary_files(self, older_than: datetime) -> int:
        cutoff = older_than.timestamp()

        def sweep() -> int:
            removed = 0
            for path in _entries(self._tmp):
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
            # A multipart directory without its manifest: create_multipart_upload killed midway.
            for directory in _entries(self._multipart):
                with contextlib.suppress(FileNotFoundError):
                    if not (directory / "upload.json").is_file() and directory.stat().st_mtime < cutoff:
                        shutil.rmtree(directory, ignore_errors=True)
                        removed += 1
            return removed

        return await to_thread.run_sync(sweep)


def _entries(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []


def _write_part_checksum(directory: Path, part_number: int, part_file: Path, md5: str) -> None:
    """Keep a part's MD5 beside it, so listing parts never reads them again (seconds per GB).

    Written before the part file replaces an earlier copy, and naming the new file's inode (which the
    replace keeps): a record that does not match the file beside it is ignored, so a listing racing
    a retried part hashes the file instead of trusting a stale record.
    """
    file_stat = part_file.stat()
    record = {"md5": md5, "inode": file_stat.st_ino, "size": file_stat.st_size}
    tmp = directory / f"{part_number:05d}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, directory / f"{part_number:05d}.md5")


def _recorded_checksum(part: Path, file_stat: os.stat_result) -> str | None:
    try:
        record = json.loads(part.with_suffix(".md5").read_text())
    except (OSError, ValueError):
        return None
    if record.get("inode") != file_stat.st_ino or record.get("size") != file_stat.st_size:
        return None
    md5 = record.get("md5")
    return md5 if isinstance(md5, str) else None


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(READ_CHUNK):
            digest.update(block)
    return digest.hexdigest()
