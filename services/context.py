"""Builds the clients the app, the worker and the CLI share, from settings. Nothing here runs at import.

Each backend's modules are imported when it is built: a server-mode process never loads the embedded
index (SQLite FTS, roaring bitmaps), an embedded one never loads the Elasticsearch client, aiohttp or
minio (issue 19: the idle API's memory; tests/services/test_lazy_imports.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from search.index import SearchIndex
from services.oidc.client import OidcClient
from services.settings import Settings
from storage.blobs.base import BlobStore
from storage.blobs.local import LocalBlobStore
from storage.blobs.signing import LinkSigner
from storage.database import create_engine, create_read_sessionmaker, create_sessionmaker
from storage.migrate import upgrade_to_head_async

logger = logging.getLogger(__name__)

PRESIGNED_LINK_TTL = timedelta(minutes=15)


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    blob_store: BlobStore
    search_index: SearchIndex
    link_signer: LinkSigner
    # The district's OpenID provider, when JIAOYUN_OIDC_ISSUER is set.
    oidc: OidcClient | None = None
    # Sessions of read_only routes (services.deps); the plain sessionmaker when not set.
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    async def close(self) -> None:
        if self.oidc is not None:
            await self.oidc.close()
        await self.search_index.close()
        await self.engine.dispose()
        await self.blob_store.close()


def build_blob_store(settings: Settings, signer: LinkSigner) -> BlobStore:
    if not settings.s3_endpoint:
        return LocalBlobStore(settings.blob_dir, signer=signer, public_base_url=settings.public_base_url)
    from storage.blobs.s3 import S3BlobStore, make_minio_client

    secret = settings.s3_secret_key.get_secret_value()
    client = make_minio_client(settings.s3_endpoint, settings.s3_access_key, secret, settings.s3_region)
    presign_client = None
    if settings.s3_public_endpoint:
        presign_client = make_minio_client(
            settings.s3_public_endpoint, settings.s3_access_key, secret, settings.s3_region
        )
    return S3BlobStore(
        client,
        settings.s3_bucket,
        presign_client=presign_client,
        max_concurrent_parts=settings.upload_max_concurrent_parts,
    )


def build_search_index(settings: Settings) -> SearchIndex:
    if not settings.elasticsearch_url:
        from search.embedded import EmbeddedSearchIndex

        return EmbeddedSearchIndex(settings.search_db_path, settings.fuzzy_pinyin)
    from elasticsearch import AsyncElasticsearch

    from search.elastic import ElasticsearchSearchIndex

    client = AsyncElasticsearch(**elasticsearch_options(settings))
    return ElasticsearchSearchIndex(
        client,
        settings.search_index_prefix,
        settings.fuzzy_pinyin,
        shards=settings.elasticsearch_shards,
        replicas=settings.elasticsearch_replicas,
    )


def elasticsearch_options(settings: Settings) -> dict[str, Any]:
    """The client's nodes (comma-separated URLs: requests go round them, and a dead node is retried
    on another), credentials (an API key, or user and password) and CA bundle for TLS."""
    from elasticsearch.serializer import OrjsonSerializer

    options: dict[str, Any] = {
        "hosts": [url.strip() for url in settings.elasticsearch_url.split(",") if url.strip()],
        "request_timeout": 10,
        "max_retries": 2,
        "retry_on_timeout": True,
        # orjson parses Elasticsearch's answers (hits with their stored documents, aggregations) and
        # writes queries several times faster than the standard library's json.
        "serializer": OrjsonSerializer(),
    }
    if settings.elasticsearch_api_key.get_secret_value():
        options["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    elif settings.elasticsearch_username:
        options["basic_auth"] = (
            settings.elasticsearch_username,
            settings.elasticsearch_password.get_secret_value(),
        )
    if settings.elasticsearch_ca_cert:
        options["ca_certs"] = settings.elasticsearch_ca_cert
    return options


def mixed_mode_warning(settings: Settings) -> str | None:
    """What to tell the operator when some backends are servers and others embedded, else None.

    Only embedded mode runs the job worker inside the API by default, so a half-configured
    deployment would otherwise silently never process uploads or update the search index."""
    backends = {
        "database": settings.database_url,
        "blob store": settings.s3_endpoint,
        "search index": settings.elasticsearch_url,
    }
    on_servers = [name for name, url in backends.items() if url]
    embedded = [name for name, url in backends.items() if not url]
    if not on_servers or not embedded:
        return None
    message = (
        f"mixed mode: {' and '.join(on_servers)} on servers, {' and '.join(embedded)} embedded under "
        f"{settings.data_dir.resolve()}."
    )
    if not settings.runs_worker_in_process:
        message += (
            " No job worker runs inside the API outside embedded mode: run `jiaoyun worker` beside it"
            " (or set JIAOYUN_EMBEDDED_WORKER=true), or uploads are never processed nor indexed."
        )
    return message


def build_context(settings: Settings) -> AppContext:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.resolved_database_url, pool_size=settings.database_pool_size)
    signer = LinkSigner(settings.secret_key.get_secret_value().encode())
    return AppContext(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        blob_store=build_blob_store(settings, signer),
        search_index=build_search_index(settings),
        link_signer=signer,
        oidc=OidcClient.from_settings(settings) if settings.oidc_issuer else None,
        read_sessionmaker=create_read_sessionmaker(engine),
    )


async def prepare_backends(context: AppContext, *, migrate: bool = True) -> None:
    """Apply migrations and create the bucket and search index if missing.

    Blob store and search index failures are tolerated here, whatever they are (down, wrong keys, an
    endpoint that is something else): the API still starts, /readyz says what is missing, and writes
    queue in the outbox until search is back. The database is not: without it nothing works, and
    failing makes the orchestrator restart the process until it is there.
    """
    if migrate:
        await upgrade_to_head_async(context.settings.resolved_database_url)
    for name, backend in (("blob store", context.blob_store), ("search index", context.search_index)):
        try:
            await backend.ensure_ready()
        except Exception:
            logger.warning("%s not ready at start-up; /readyz will report it", name, exc_info=True)
