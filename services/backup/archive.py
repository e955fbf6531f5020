"""The backup archive of an embedded installation: one tar file, its sha256 beside it.

Inside: `jiaoyun.db` (a snapshot taken with SQLite's online backup API: one consistent moment, while
the server keeps writing), `blobs/objects/...` and `blobs/meta/...` (the blob store's files),
`secret_key` (so sessions and share links survive a restore) and, last, `manifest.json`: every file's
size and sha256 and the snapshot's row count per table. The search index is not in it: a restore
rebuilds it from the database, so it matches the restored rows exactly.

Consistency with blobs: a blob is never rewritten (every put gets a new key) and is deleted only after
the rows naming it are gone. So every blob file is hard-linked first, then the database snapshot is
taken, then whatever the snapshot names that appeared in between is linked too. A blob the snapshot
names that vanished in the meantime (replaced and deleted within those moments) makes the backup start
over.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

FORMAT = 1
DATABASE = "jiaoyun.db"
MANIFEST = "manifest.json"
SECRET_KEY = "secret_key"  # noqa: S105 (a file name)
BLOBS = "blobs"
# What of the blob store a backup holds: finished objects and their metadata (not parts of uploads
# under way, nor temporary files of writes in progress).
BLOB_PARTS = ("objects", "meta")
ATTEMPTS = 3
CHUNK = 1024 * 1024

# Bytes done, bytes in all.
Progress = Callable[[int, int], None]


class BackupError(Exception):
    """What the operator must hear: the backup or restore did not happen, and why."""


@dataclass
class Manifest:
    created_at: str
    database: dict[str, Any]
    row_counts: dict[str, int]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # archive path → size, sha256
    referenced_blobs: list[str] = field(default_factory=list)
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        if raw.get("format") != FORMAT:
            raise BackupError(f"unknown backup format {raw.get('format')!r} (this version reads {FORMAT})")
        return cls(**raw)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def row_counts(database: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            )
        ]
        # Names from sqlite_master itself, quoted: nothing from outside goes into the statement.
        return {
            table: int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
            for table in tables
        }


def referenced_blob_keys(database: Path) -> tuple[set[str], set[str]]:
    """Keys the rows name: those that must exist (files' content and posters), and those that may
    (uploads whose blob is assembled, or not yet)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        required = {row[0] for row in connection.execute("SELECT blob_key FROM resource_files")}
        required |= {
            row[0]
            for row in connection.execute(
                "SELECT poster_key FROM resource_files WHERE poster_key IS NOT NULL"
            )
        }
        optional = {row[0] for row in connection.execute("SELECT blob_key FROM upload_sessions")}
    return required, optional - required


def snapshot_database(source: Path, target: Path) -> None:
    """SQLite's online backup API, in one step: one read transaction, so one consistent moment, while
    other connections keep writing (WAL). Stepping page by page would restart at every write."""
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _link_tree(blob_dir: Path, staging: Path) -> None:
    for part in BLOB_PARTS:
        root = blob_dir / part
        if not root.is_dir():
            continue
        for directory, _, names in os.walk(root):
            for name in names:
                source = Path(directory) / name
                target = staging / BLOBS / source.relative_to(blob_dir)
                if not target.exists():
                    with contextlib.suppress(FileNotFoundError):  # deleted meanwhile: not in the snapshot
                        _link_or_copy(source, target)


def _stage(data_dir: Path, blob_dir: Path, staging: Path) -> list[str]:
    """Links of the blobs, the database snapshot, the blobs it names; the keys it names, or
    BlobVanished when one it needs is gone."""
    _link_tree(blob_dir, staging)
    snapshot_database(data_dir / DATABASE, staging / DATABASE)
    required, optional = referenced_blob_keys(staging / DATABASE)
    missing = []
    for key in sorted(required | optional):
        for relative in (Path("objects") / key, Path("meta") / f"{key}.json"):
            target = staging / BLOBS / relative
            if target.exists():
                continue
            try:
                _link_or_copy(blob_dir / relative, target)
            except FileNotFoundError:
                if key in required and relative.parts[0] == "objects":
                    missing.append(key)
    if missing:
        raise _BlobVanished(missing)
    return sorted(required)


class _BlobVanished(Exception):
    def __init__(self, keys: list[str]) -> None:
        super().__init__(f"{len(keys)} blobs named by the snapshot vanished: {keys[:3]}")
        self.keys = keys


class _HashingWriter:
    """A write-only file that hashes what passes through it (the archive's own checksum)."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


class _HashingReader:
    def __init__(self, source: IO[bytes], on_read: Callable[[int], None]) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.on_read(len(data))
        return data


def _files(staging: Path) -> Iterator[Path]:
    for directory, _, names in os.walk(staging):
        for name in sorted(names):
            yield Path(directory) / name


def create_backup(data_dir: Path, blob_dir: Path, out: Path, progress: Progress | None = None) -> Manifest:
    """Write the archive OUT and OUT.sha256; the manifest of what went in."""
    if not (data_dir / DATABASE).is_file():
        raise BackupError(f"no database at {data_dir / DATABASE}: nothing to back up")
    if out.exists():
        raise BackupError(f"{out} exists already; choose a new name")
    # Inside the data dir: the same file system, so blobs are hard links, not copies.
    staging = data_dir / f".backup-{uuid.uuid4().hex[:8]}"
    try:
        for attempt in range(1, ATTEMPTS + 1):
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            try:
                referenced = _stage(data_dir, blob_dir, staging)
                break
            except _BlobVanished:
                if attempt == ATTEMPTS:
                    raise
        if (data_dir / SECRET_KEY).is_file():
            shutil.copy2(data_dir / SECRET_KEY, staging / SECRET_KEY)
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            database={"path": DATABASE},
            row_counts=row_counts(staging / DATABASE),
            referenced_blobs=referenced,
        )
        _write_archive(staging, out, manifest, progress)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _write_archive(staging: Path, out: Path, manifest: Manifest, progress: Progress | None) -> None:
    files = list(_files(staging))
    total = sum(path.stat().st_size for path in files)
    done = 0

    def advanced(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    partial = out.with_name(f".{out.name}.partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("wb") as raw:
            writer = _HashingWriter(raw)
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for path in files:
                    name = path.relative_to(staging).as_posix()
                    info = tar.gettarinfo(str(path), arcname=name)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with path.open("rb") as source:
                        reader = _HashingReader(source, advanced)
                        tar.addfile(info, reader)
                    manifest.files[name] = {"size": info.size, "sha256": reader.digest.hexdigest()}
                manifest.database["sha256"] = manifest.files[DATABASE]["sha256"]
                body = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(body)
                info.mtime = int(datetime.now(UTC).timestamp())
                tar.addfile(info, _HashingReader(_BytesSource(body), lambda _: None))  # type: ignore[arg-type]
            raw.flush()
            os.fsync(raw.fileno())
        checksum = writer.digest.hexdigest()
        partial.replace(out)
        out.with_name(f"{out.name}.sha256").write_text(f"{checksum}  {out.name}\n")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class _BytesSource:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk = self.data[self.offset : end]
        self.offset += len(chunk)
        return chunk


def verify_archive_checksum(archive: Path, progress: Progress | None = None) -> None:
    sidecar = archive.with_name(f"{archive.name}.sha256")
    if not sidecar.is_file():
        raise BackupError(f"{sidecar} is missing: the archive's checksum cannot be verified")
    expected = sidecar.read_text().split()[0]
    total = archive.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with archive.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    if digest.hexdigest() != expected:
        raise BackupError(f"{archive} does not match its checksum: damaged or incomplete")


def _safe_member(member: tarfile.TarInfo) -> Path:
    path = Path(member.name)
    if path.is_absolute() or ".." in path.parts or not member.isfile():
        raise BackupError(f"the archive holds {member.name!r}, which no backup of ours does")
    return path


def extract(archive: Path, target: Path, progress: Progress | None = None) -> Manifest:
    """Every file into target, each checked against the manifest's size and sha256 as it is written."""
    with tarfile.open(archive, mode="r:") as tar:
        try:
            manifest = Manifest.from_json(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        except KeyError as exc:
            raise BackupError(f"{archive} has no {MANIFEST}: not a Jiaoyun backup") from exc
        total = sum(entry["size"] for entry in manifest.files.values())
        done = 0
        seen: set[str] = set()
        for member in tar:
            if member.name == MANIFEST:
                continue
            relative = _safe_member(member)
            expected = manifest.files.get(member.name)
            if expected is None:
                raise BackupError(f"{member.name} is in the archive but not in its manifest")
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            source = tar.extractfile(member)
            assert source is not None
            with destination.open("wb") as out:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            if digest.hexdigest() != expected["sha256"]:
                raise BackupError(f"{member.name}: sha256 differs from the manifest's")
            seen.add(member.name)
        missing = set(manifest.files) - seen
        if missing:
            raise BackupError(
                f"{len(missing)} files of the manifest are not in the archive: {sorted(missing)[:3]}"
            )
    return manifest
