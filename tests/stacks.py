"""Isolated backends for one test each: a database transaction or file, a bucket, an index prefix."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from anyio import to_thread
from elasticsearch import AsyncElasticsearch
from minio import Minio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from search.elastic import ElasticsearchSearchIndex
from search.embedded import EmbeddedSearchIndex
from search.index import SearchIndex
from services.context import AppContext
from services.settings import Settings
from storage.blobs.base import BlobStore
from storage.blobs.local import LocalBlobStore
from storage.blobs.s3 import S3BlobStore, make_minio_client
from storage.blobs.signing import LinkSigner
from storage.database import create_engine, guard_text_parameters
from tests import backends

TEST_SECRET = "test-secret-key-not-for-production"


@dataclass
class Database:
    kind: str
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def sqlite_database(template: Path, workdir: Path) -> AsyncIterator[Database]:
    path = workdir / "jiaoyun.db"
    shutil.copyfile(template, path)
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    try:
        yield Database("sqlite", url, engine, async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[Database]:
    """Everything the test does happens inside one transaction that is rolled back at the end."""
    engine = create_async_engine(url, poolclass=NullPool)
    guard_text_parameters(engine)
    connection = await engine.connect()
    transaction = await connection.begin()
    try:
        yield Database(
            "postgresql",
            url,
            engine,
            async_sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            ),
        )
    finally:
        await transaction.rollback()
        await connection.close()
        await engine.dispose()


def signer() -> LinkSigner:
    return LinkSigner(TEST_SECRET.encode())


@asynccontextmanager
async def local_blob_store(root: Path) -> AsyncIterator[LocalBlobStore]:
    store = LocalBlobStore(root, signer=signer(), public_base_url="http://testserver")
    await store.ensure_ready()
    yield store


@asynccontextmanager
async def s3_blob_store() -> AsyncIterator[S3BlobStore]:
    client = make_minio_client(
        backends.S3_ENDPOINT, backends.S3_ACCESS_KEY, backends.S3_SECRET_KEY, "us-east-1"
    )
    store = S3BlobStore(client, f"test-{uuid.uuid4().hex[:12]}")
    await store.ensure_ready()
    try:
        yield store
    finally:
        async for key in store.list_keys():
            await store.delete(key)
        await to_thread.run_sync(_remove_bucket, client, store.bucket)
        await store.close()


def _remove_bucket(client: Minio, bucket: str) -> None:
    for upload in client._list_multipart_uploads(bucket).uploads:
        client._abort_multipart_upload(bucket, upload.object_name, str(upload.upload_id))
    client.remove_bucket(bucket)


@asynccontextmanager
async def embedded_search_index(path: Path) -> AsyncIterator[EmbeddedSearchIndex]:
    index = EmbeddedSearchIndex(path)
    await index.ensure_ready()
    try:
        yield index
    finally:
        await index.drop_all()


@asynccontextmanager
async def elasticsearch_index(refresh_interval: str | None = None) -> AsyncIterator[ElasticsearchSearchIndex]:
    """A live index of the test's own; `refresh_interval` shortens the scheduled refresh the outbox
    drain's writes wait for (1 s, search.elastic.SETTINGS), so tests that drain often wait less."""
    client = AsyncElasticsearch(backends.ELASTICSEARCH_URL, request_timeout=30)
    index = ElasticsearchSearchIndex(client, f"test-{uuid.uuid4().hex[:12]}")
    await index.ensure_ready()
    if refresh_interval is not None:
        await client.indices.put_settings(index=index.alias, settings={"refresh_interval": refresh_interval})
    try:
        yield index
    finally:
        await index.drop_all()
        await index.close()


def settings_for_tests(workdir: Path, **overrides: object) -> Settings:
    return Settings(
        data_dir=workdir,
        secret_key=SecretStr(TEST_SECRET),
        public_base_url="http://testserver",
        embedded_worker=False,
        **overrides,  # type: ignore[arg-type]
    )


def make_context(
    settings: Settings, database: Database, blob_store: BlobStore, search_index: SearchIndex
) -> AppContext:
    return AppContext(
        settings=settings,
        engine=database.engine,
        sessionmaker=database.sessionmaker,
        blob_store=blob_store,
        search_index=search_index,
        link_signer=signer(),
    )
