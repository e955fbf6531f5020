"""`jiaoyun backup` and `jiaoyun restore` for embedded mode; server mode uses the engines' own
tools (pg_dump, mc mirror, `jiaoyun reindex`), as the README describes."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from search.documents import AccessFilter, SearchQuery
from services.backup import archive
from services.backup.archive import BackupError, Manifest, Progress

__all__ = ["BackupError", "RestoreReport", "backup", "restore"]
from services.context import build_context, prepare_backends
from services.indexing.service import rebuild_search_index
from services.settings import Settings

# Resources whose titles a restore looks up in the rebuilt index, to see it answer.
SEARCH_SAMPLES = 5


@dataclass
class RestoreReport:
    manifest: Manifest
    blobs_verified: int = 0
    documents_indexed: int = 0
    searches_answered: int = 0
    lines: list[str] = field(default_factory=list)


def require_embedded(settings: Settings) -> None:
    if not settings.is_embedded:
        raise BackupError(
            "backup and restore are for embedded mode; with PostgreSQL, MinIO and Elasticsearch use "
            "pg_dump, mc mirror and `jiaoyun reindex` (see the README's backup section)"
        )


def backup(settings: Settings, out: Path, progress: Progress | None = None) -> Manifest:
    require_embedded(settings)
    return archive.create_backup(settings.data_dir, settings.blob_dir, out, progress)


async def restore(
    settings: Settings,
    source: Path,
    *,
    verify_progress: Progress | None = None,
    extract_progress: Progress | None = None,
) -> RestoreReport:
    """Into an empty data dir: checksum, files (each checked against the manifest), row counts,
    every blob the rows name, then the search index rebuilt and asked for some titles."""
    require_embedded(settings)
    data_dir = settings.data_dir
    # The settings made a key there on the way in: the backup's replaces it.
    if data_dir.exists() and {entry.name for entry in data_dir.iterdir()} - {archive.SECRET_KEY}:
        raise BackupError(f"{data_dir} is not empty: restore goes into a new, empty data directory")
    archive.verify_archive_checksum(source, verify_progress)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f".restore-{uuid.uuid4().hex[:8]}"
    try:
        manifest = archive.extract(source, staging, extract_progress)
        counts = archive.row_counts(staging / archive.DATABASE)
        if counts != manifest.row_counts:
            raise BackupError("the restored database's row counts differ from the manifest's")
        report = RestoreReport(manifest)
        for key in manifest.referenced_blobs:
            if not (staging / archive.BLOBS / "objects" / key).is_file():
                raise BackupError(f"blob {key}, named by the database, is not in the backup")
        report.blobs_verified = sum(
            1 for name in manifest.files if name.startswith(f"{archive.BLOBS}/objects/")
        )
        for entry in staging.iterdir():
            entry.replace(data_dir / entry.name)
    except BaseException:
        for entry in data_dir.iterdir():
            if entry.name != archive.SECRET_KEY:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    await _reindex_and_search(settings, report)
    table_rows = sum(manifest.row_counts.values())
    report.lines = [
        f"archive checksum ok; {len(manifest.files)} files match the manifest's sha256",
        f"database: {len(manifest.row_counts)} tables, {table_rows} rows, counts as backed up",
        f"blobs: {report.blobs_verified} present with their sha256 "
        f"({len(manifest.referenced_blobs)} named by rows)",
        f"search index rebuilt: {report.documents_indexed} documents; "
        f"{report.searches_answered} of the sampled titles found",
    ]
    return report


async def _reindex_and_search(settings: Settings, report: RestoreReport) -> None:
    from sqlalchemy import select

    from storage.models.resources import Resource

    context = build_context(settings)
    try:
        # Migrations too: a backup of an older version comes back at this version's schema.
        await prepare_backends(context)
        report.documents_indexed = await rebuild_search_index(context)
        async with context.sessionmaker() as session:
            samples = (await session.execute(select(Resource.id, Resource.title).limit(SEARCH_SAMPLES))).all()
        for resource_id, title in samples:
            result = await context.search_index.search(
                SearchQuery(text=title, access=AccessFilter(see_everything=True), limit=50)
            )
            if any(hit.parent_id == str(resource_id) for hit in result.hits):
                report.searches_answered += 1
        if report.searches_answered != len(samples):
            raise BackupError(
                f"the rebuilt search index found {report.searches_answered} of {len(samples)} sampled titles"
            )
    finally:
        await context.close()
