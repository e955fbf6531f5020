"""The one settings class. Defaults are embedded mode; production points the same code at real servers."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIAOYUN_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".jiaoyun")
    # Empty means embedded: SQLite under data_dir.
    database_url: str = ""
    database_pool_size: int = 10

    # Empty endpoint means embedded: blobs on local disk under data_dir.
    s3_endpoint: str = ""
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "jiaoyun"
    s3_region: str = "us-east-1"
    # Host that browsers reach for presigned URLs, when it differs from s3_endpoint (e.g. in compose).
    s3_public_endpoint: str = ""

    # Empty means embedded: SQLite FTS5 index under data_dir.
    elasticsearch_url: str = ""
    search_index_prefix: str = "jiaoyun"

    # Signs tokens and local presigned links. A random per-process default only suits one process:
    # set it explicitly whenever more than one replica runs.
    secret_key: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    public_base_url: str = "http://127.0.0.1:8000"

    access_token_ttl_minutes: int = 8 * 60
    # Failed sign-ins allowed per username and client address within the window before 429.
    login_max_failures: int = 5
    # Failed sign-ins allowed per client address over all usernames (a whole school may share one).
    login_max_failures_per_address: int = 100
    login_failure_window_s: int = 15 * 60

    # Run the job worker inside the API process; defaults to on in embedded mode.
    embedded_worker: bool | None = None
    worker_poll_interval_s: float = 1.0

    # Upload limits by what the bytes turn out to be (MiB).
    max_video_mb: int = 4096
    max_document_mb: int = 300
    max_image_mb: int = 30
    max_subtitle_mb: int = 5
    # Resumable uploads not completed within this many hours are aborted and their parts removed.
    upload_ttl_hours: int = 24
    # In S3 mode, answer content requests with a redirect to a short-lived presigned URL when asked.
    content_redirects: bool = True
    # `jiaoyun gc` leaves unreferenced blobs younger than this alone: an upload may be mid-commit.
    gc_grace_minutes: int = 60
    # How often the worker runs gc and upload expiry by itself (0 turns that off).
    maintenance_interval_minutes: int = 60

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'jiaoyun.db').resolve()}"

    @property
    def is_embedded(self) -> bool:
        return not (self.database_url or self.s3_endpoint or self.elasticsearch_url)

    @property
    def runs_worker_in_process(self) -> bool:
        return self.is_embedded if self.embedded_worker is None else self.embedded_worker

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def search_db_path(self) -> Path:
        return self.data_dir / "search.db"
