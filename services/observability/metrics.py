"""Prometheus metrics of the API and the workers.

Counters and histograms live in the process that observes them. `jiaoyun serve --workers N` points
every process at one directory (PROMETHEUS_MULTIPROC_DIR, set before any of them imports
prometheus_client), and /metrics then merges all their files. Queue depths and ages are read from
the database at scrape time instead: they are the same whichever process (or `jiaoyun worker` on
another machine) does the work.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from storage.database import is_database_outage

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; requests and searches are mostly quick, processing a recording takes minutes.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_PROCESSING_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

http_requests = Counter(
    "jiaoyun_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
http_request_seconds = Histogram(
    "jiaoyun_http_request_duration_seconds",
    "Time to answer HTTP requests",
    ["method", "route", "status"],
    buckets=_REQUEST_BUCKETS,
)
search_seconds = Histogram(
    "jiaoyun_search_duration_seconds",
    "Time the search index takes to answer a query",
    ["backend", "operation"],
    buckets=_REQUEST_BUCKETS,
)
upload_bytes = Counter("jiaoyun_upload_bytes_total", "Bytes of files received", ["way"])
upload_seconds = Counter(
    "jiaoyun_upload_seconds_total", "Time spent receiving file bytes (throughput = bytes / seconds)", ["way"]
)
jobs_finished = Counter("jiaoyun_jobs_total", "Job attempts finished", ["kind", "outcome"])
processing_seconds = Histogram(
    "jiaoyun_processing_duration_seconds",
    "Time to process an uploaded file, by what it is",
    ["file_kind"],
    buckets=_PROCESSING_BUCKETS,
)
index_drained = Counter("jiaoyun_index_changes_applied_total", "Search outbox entries applied to the index")
index_drain_lag = Histogram(
    "jiaoyun_index_drain_lag_seconds",
    "From a change being written to its reaching the search index",
    buckets=_PROCESSING_BUCKETS,
)
backend_errors = Counter(
    "jiaoyun_backend_errors_total", "Requests failed by an unavailable backend", ["backend"]
)
login_failures = Counter("jiaoyun_login_failures_total", "Sign-ins refused", ["method", "reason"])
rate_limited = Counter("jiaoyun_rate_limited_total", "Attempts refused with 429", ["what"])


def search_backend(index: object) -> str:
    """ "elasticsearch" or "embedded", from the index class (ElasticsearchSearchIndex, ...)."""
    name = type(index).__name__.removesuffix("SearchIndex").lower()
    return name or "unknown"


@contextlib.contextmanager
def time_search(index: object, operation: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        search_seconds.labels(search_backend(index), operation).observe(time.perf_counter() - started)


def count_backend_error(cause: BaseException) -> None:
    """A request failed (503) because a backend is down; which one, from the error behind it."""
    from search.index import SearchUnavailable
    from storage.blobs.base import BlobError

    if isinstance(cause, SearchUnavailable):
        backend = "search"
    elif isinstance(cause, BlobError):
        backend = "blob_store"
    elif is_database_outage(cause):
        backend = "database"
    else:
        backend = "other"
    backend_errors.labels(backend).inc()


def record_upload(way: str, size: int, seconds: float) -> None:
    upload_bytes.labels(way).inc(size)
    upload_seconds.labels(way).inc(seconds)


@dataclass(frozen=True)
class QueueFigures:
    """What the database says is waiting, read at scrape time."""

    # kind → (queued jobs, age in seconds of the oldest queued one)
    jobs: dict[str, tuple[int, float]]
    # status → number of jobs
    jobs_by_status: dict[str, int]
    outbox_backlog: int
    outbox_oldest_age_s: float


class _Snapshot(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def queue_families(figures: QueueFigures) -> list[Metric]:
    depth = GaugeMetricFamily("jiaoyun_job_queue_depth", "Jobs waiting to run", labels=["kind"])
    age = GaugeMetricFamily(
        "jiaoyun_job_queue_oldest_age_seconds", "Age of the oldest waiting job", labels=["kind"]
    )
    for kind, (count, oldest) in sorted(figures.jobs.items()):
        depth.add_metric([kind], count)
        age.add_metric([kind], oldest)
    by_status = GaugeMetricFamily("jiaoyun_jobs_by_status", "Jobs in the database", labels=["status"])
    for status, count in sorted(figures.jobs_by_status.items()):
        by_status.add_metric([status], count)
    backlog = GaugeMetricFamily(
        "jiaoyun_search_outbox_backlog", "Index changes not yet applied", value=figures.outbox_backlog
    )
    outbox_age = GaugeMetricFamily(
        "jiaoyun_search_outbox_oldest_age_seconds",
        "Age of the oldest index change not yet applied (the index's lag)",
        value=figures.outbox_oldest_age_s,
    )
    return [depth, age, by_status, backlog, outbox_age]


def exposition(extra: Sequence[Metric] = ()) -> bytes:
    """The text exposition of this process, or of every process sharing the multiprocess directory,
    followed by the families given (figures read at scrape time)."""
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if extra:
        snapshot = CollectorRegistry()
        snapshot.register(_Snapshot(extra))
        body += generate_latest(snapshot)
    return body
