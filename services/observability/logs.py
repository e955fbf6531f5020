"""Log lines as text (for a terminal) or JSON (one object per line, for a log shipper).

Every line carries what it happened for: the request id and user of an HTTP request, the job and
file of a worker's job. These sit in context variables, set where the request or job starts, so a
line logged anywhere below carries them without being passed along. Whatever looks like a bearer
token or a password is blanked in every line, however it got into the message.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

# The fields a line may carry beyond its message, in the order text lines show them.
CONTEXT_FIELDS = ("request_id", "user_id", "job_id", "job_kind", "file_id")
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("jiaoyun_log_context", default={})  # noqa: B039 (never mutated: replaced)

# Fields of access lines (passed as `extra`), shown after the context in both formats.
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms", "client")

_REDACTIONS = (
    # JWTs (our session tokens, ID tokens) and bearer credentials.
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*"), "[redacted-token]"),
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"), r"\1[redacted]"),
    # password=..., "client_secret": "...", code=... in URLs or dumped payloads.
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|client_secret|access_token|id_token|refresh_token|code_verifier)"
            r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,}]+"
        ),
        r"\1[redacted]",
    ),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Lines logged inside carry these fields (None ones are left out)."""
    token = _context.set(_context.get() | {k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: str | None) -> None:
    """Add fields to the current context until it ends (for a task already inside log_context)."""
    _context.set(_context.get() | {k: v for k, v in fields.items() if v is not None})


def current(field: str) -> str | None:
    return _context.get().get(field)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        name: getattr(record, name)
        for name in (*CONTEXT_FIELDS, *ACCESS_FIELDS)
        if getattr(record, name, None) is not None
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            **_extras(record),
        }
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = _extras(record)
        # Access lines say method, path, status and time in their message already.
        context = " ".join(f"{k}={v}" for k, v in extras.items() if k in CONTEXT_FIELDS)
        return redact(f"{text} [{context}]" if context else text)


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """One handler on the root logger, for our lines and the libraries' (uvicorn's included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Our access line replaces uvicorn's: one per request, with the route, user and request id.
    logging.getLogger("uvicorn.access").disabled = True
    # The Elasticsearch client logs every request it makes at INFO, two lines more per search, each
    # formatted and written (~25 µs): its timings are in the metrics, and node failures and retries
    # still log (WARNING). At DEBUG they stay.
    transport = logging.getLogger("elastic_transport.transport")
    transport.setLevel(logging.WARNING if root.level > logging.DEBUG else logging.NOTSET)
