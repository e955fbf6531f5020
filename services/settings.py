"""The one settings class. Defaults are embedded mode; production points the same code at real servers."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from search.fuzzy import FuzzyPinyin

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (the name of the file keeping it, not a key)


def embedded_secret_key(data_dir: Path) -> str:
    """The key kept in <data_dir>/secret_key, made on first use.

    Made atomically: written in full to a private temporary file, then linked into place, which fails
    if the file exists already. Processes starting together (`serve --workers N`) thus all end up
    with the one key that got there first, and a restart keeps it (nobody is signed out)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        temporary = data_dir / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
            file.flush()
            os.fsync(file.fileno())
        try:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.1)  # written by hand and not saved yet; never by us (linked only once complete)
    raise ValueError(f"{path} is empty; delete it to have a new key made, or set JIAOYUN_SECRET_KEY")


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

    # Signs tokens, share links and local presigned links. Unset in embedded mode: made once and kept
    # in <data_dir>/secret_key. Required as soon as any server URL is set: replicas on several
    # machines share no data dir, and a key per process would make them reject each other's tokens.
    secret_key: SecretStr = SecretStr("")
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
    # How long a claimed job stays a worker's; a killed worker's jobs go to another one after this.
    # A live worker renews it three times per period while it works, so jobs may take longer.
    worker_lease_s: float = 600.0
    # -- long jobs' lane (issue 14): transcodes run beside the batches, never inside one --
    # Long jobs (transcodes) a worker runs at once, beside its batches of other jobs; 0: none (a
    # worker that only serves documents and indexing, with transcoding left to other workers).
    worker_long_job_slots: int = Field(default=1, ge=0, le=16)

    # Upload limits by what the bytes turn out to be (MiB).
    max_video_mb: int = 4096
    max_document_mb: int = 300
    max_image_mb: int = 30
    max_subtitle_mb: int = 5
    # Resumable uploads not completed within this many hours are aborted and their parts removed.
    upload_ttl_hours: int = 24
    # -- resumable upload quotas and part memory (issue 13) --
    # Per user: uploads started and not yet attached (active or completed, not expired), and the bytes
    # they declared; a new upload beyond either is 429.
    upload_max_open_per_user: int = 20
    upload_max_open_mb_per_user: int = 16384
    # In S3 mode a part sent through the API streams to the store; this caps the parts a process
    # relays at once (each holds a connection to the store and a small buffer); beyond it, 503.
    upload_max_concurrent_parts: int = 32
    # In S3 mode, answer content requests with a redirect to a short-lived presigned URL when asked.
    content_redirects: bool = True
    # `jiaoyun gc` leaves unreferenced blobs younger than this alone: an upload may be mid-commit.
    gc_grace_minutes: int = 60
    # How often the worker runs gc and upload expiry by itself (0 turns that off).
    maintenance_interval_minutes: int = 60

    # -- views (issue 13) --
    # One viewer (a user, a share link's guest, an anonymous address) counts as one view of a
    # resource per this many minutes, however often they open it.
    view_window_minutes: int = 30

    # -- Processing limits and the index's own schedule (hardening, issue 13) --
    # Every extraction (documents, subtitles, images) runs in a child process killed after this many
    # seconds, with at most this much address space (RLIMIT_AS, MiB); the file then fails alone.
    processing_timeout_s: float = 300.0
    # OCR's ONNX Runtime alone maps about 2 GB of address space (its arenas and three models), so
    # less than this fails every scan; documents without OCR need a fraction of it.
    processing_memory_mb: int = 3072
    # The same for probing a video and cutting its poster (FFmpeg decodes with several threads).
    video_probe_timeout_s: float = 300.0
    video_probe_memory_mb: int = 2048
    # The search outbox is drained on a schedule of its own, never behind a slow job: this often
    # when it is empty, at once again while it has entries.
    search_outbox_interval_s: float = 0.5

    # -- search that forgives (issue 15) --
    # Fuzzy pinyin pairs (模糊音) titles match by: "default" (z=zh,c=ch,s=sh,n=l,f=h,an=ang,en=eng,
    # in=ing, as input methods offer them), "none", or a comma-separated list of pairs from
    # search.fuzzy.KNOWN_PAIRS (r=l, ian=iang, uan=uang too). A change rewrites the index on start.
    search_fuzzy_pinyin: str = "default"

    @field_validator("search_fuzzy_pinyin")
    @classmethod
    def _known_fuzzy_pairs(cls, value: str) -> str:
        FuzzyPinyin.parse(value)
        return value

    @property
    def fuzzy_pinyin(self) -> FuzzyPinyin:
        return FuzzyPinyin.parse(self.search_fuzzy_pinyin)

    # -- Document reading (services/documents): OCR of scans, photos and garbage-text pages --
    # Off: pictures and scans stay without text (as before OCR existed); text PDFs are unaffected.
    ocr_enabled: bool = True
    # Pages or pictures OCR'd per file at most (about 1-3 s each on one CPU); the rest stay unread.
    ocr_max_pages: int = Field(default=50, ge=0)

    # -- Lesson video: renditions (issue 14) and watch time ---------------------------------------
    # Rendition heights (the short side), H.264 + AAC in HLS; a source is never upscaled.
    video_ladder: list[int] = [360, 720, 1080]
    # libx264 preset: speed against size; veryfast keeps a 45-minute lesson well under realtime.
    video_preset: str = "veryfast"
    # The transcoding child process: address-space limit and time limit (this many times the
    # video's duration, and never less than the minimum).
    video_transcode_memory_mb: int = 3072
    video_transcode_time_factor: float = 4.0
    video_transcode_min_time_s: float = 600.0
    # How long presigned segment URLs in rewritten playlists stay valid (S3 mode): a whole lesson.
    video_segment_url_ttl_minutes: int = 360
    # Watch reports per viewer and recording within a minute before 429.
    watch_reports_per_minute: int = 12
    # -- the students' half: classes, assignments, submissions (issue 17) --
    # Audio files (朗读), accepted in students' submissions only (MiB).
    max_audio_mb: int = 200
    # Each file a student hands in, whatever its kind (MiB); the per-kind limits above apply too.
    max_submission_file_mb: int = 100
    max_submission_files: int = 10
    # Whether new assignments take work after their due time (marked late) unless the teacher says.
    accept_late_submissions: bool = False
    # Submissions are removed by `jiaoyun gc` this many days after their class's school year ends
    # (31 August); 0 keeps them forever.
    submission_retention_days: int = 365
    # -- students' half, round two: words in handed-in work (issue 17) --
    # The worker reads the text of handed-in PDF/DOCX/PPTX files and photos (OCR, as ocr_enabled
    # says) for teachers' search, keeping up to this many characters per file; 0 reads none.
    submission_text_max_chars: int = Field(default=20_000, ge=0, le=1_000_000)
    # -- operations (issue 20): metrics, logs, single sign-on, Elasticsearch clusters --------------
    # /metrics answers clients from these networks (comma-separated CIDRs), or anyone sending
    # `Authorization: Bearer <metrics_token>`; everyone else gets 403. Empty token: networks only.
    metrics_enabled: bool = True
    metrics_allow_from: str = "127.0.0.1/32,::1/128"
    metrics_token: SecretStr = SecretStr("")
    # `jiaoyun worker` serves its own /metrics on this port (0: none); API processes serve theirs.
    worker_metrics_port: int = 0
    # "text" for a terminal, "json" for a log shipper: one object per line.
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # OpenID Connect sign-in; off while oidc_issuer is empty.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_scopes: str = "openid profile email"
    # Which claims say who someone is: the external id (matched first), the username (matched next,
    # so accounts imported from CSV are taken over), the name, the school (a code or a name).
    oidc_external_id_claim: str = "sub"
    oidc_username_claim: str = "preferred_username"
    oidc_display_name_claim: str = "name"
    oidc_school_claim: str = "school"
    oidc_role_claim: str = "groups"
    # Values of the role claim → our roles, e.g. "teachers=teacher,leads=research_lead"; first match
    # in our order of precedence (district admin first) wins; nobody matching is oidc_default_role.
    oidc_role_map: str = ""
    oidc_default_role: str = "student"
    # Unknown people signing in get an account, or are refused (accounts then come from CSV only).
    oidc_create_users: bool = True
    # Shown on the sign-in page's button.
    oidc_button_label: str = "统一身份认证登录"
    # Off: only district admins sign in with a password (everyone else through OIDC).
    local_passwords: bool = True
    # Extra CA bundle for the provider's TLS (a district's own CA).
    oidc_ca_cert: str = ""
    # Elasticsearch: several nodes are comma-separated in elasticsearch_url; API key or user/password;
    # a CA bundle for TLS; shards and replicas of new indices (reindex to change them; no replicas
    # setting keeps 0-1 replicas, as many as the nodes allow).
    elasticsearch_api_key: SecretStr = SecretStr("")
    elasticsearch_username: str = ""
    elasticsearch_password: SecretStr = SecretStr("")
    elasticsearch_ca_cert: str = ""
    elasticsearch_shards: int = 1
    elasticsearch_replicas: int | None = None
    # -- approval before district-wide publishing (审核, issue 18) ---------------------------------
    # Edits to the title, description or files of an approved district/public resource go back to
    # review (tags and curriculum fields never do). New rounds and replaced main files always do.
    review_on_edit: bool = False

    @model_validator(mode="after")
    def _secret_key_from_data_dir_or_required(self) -> Settings:
        if self.secret_key.get_secret_value():
            return self
        if not self.is_embedded:
            raise ValueError(
                "JIAOYUN_SECRET_KEY is not set. It is required when JIAOYUN_DATABASE_URL, "
                "JIAOYUN_S3_ENDPOINT or JIAOYUN_ELASTICSEARCH_URL is set: every API replica and worker "
                "must sign with the same key. Set it to a long random string, the same everywhere, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        self.secret_key = SecretStr(embedded_secret_key(self.data_dir))
        return self

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
