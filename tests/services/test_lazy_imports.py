"""The API process loads no file-reading library, and no backend's client, at start (issue 19: idle
RSS ≤ 150 MiB); a context loads the clients of its own backends only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Libraries only the worker (or its children), one backend or a first use needs, with what they cost
# resident when imported.
HEAVY = (
    "av",  # PyAV + FFmpeg, ~26 MiB
    "numpy",  # ~20 MiB
    "PIL",
    "pypdf",  # ~25 MiB
    "pypdfium2",
    "docx",
    "pptx",
    "lxml",
    "rapidocr_onnxruntime",
    "onnxruntime",
    "cv2",
    "pypinyin",  # phrase tables, ~55 MiB
    "jieba",  # replaced by rjieba, whose dictionary ensure_ready loads
    "rjieba",
    "alembic",  # migrations run in a child of `jiaoyun serve`, or by `jiaoyun migrate`
    # Each backend's client with the backend (services.context), in server mode and embedded mode alike:
    "elasticsearch",  # ~18 MiB with its transport's aiohttp
    "aiohttp",
    "minio",  # ~3.5 MiB with pycryptodome
    "pyroaring",  # the embedded index's bitmaps
    "authlib",  # OpenID Connect, only for a district with an OpenID provider (~5 MiB with joserfc)
    "joserfc",
    "markdown_it",  # with the first rendering
    "opencc",  # with the first Traditional → Simplified folding (~4 MiB with its phrase tables)
    "jinja2",  # with the first web page rendered
)
# Modules of our own that only the other backend needs.
OWN = ("search.embedded", "search.elastic", "storage.blobs.s3")

_PROBE = """
import json, sys
from services.app import create_app
create_app()
loaded = [name for name in sys.modules if name.split(".")[0] in set(sys.argv[1:]) or name in sys.argv[1:]]
print(json.dumps(sorted(loaded)))
"""


def test_creating_the_app_imports_no_heavy_library() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, *HEAVY, *OWN],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def test_a_lazy_module_is_the_real_one_once_used() -> None:
    probe = (
        "import sys; from services.lazy_imports import lazy_module\n"
        "m = lazy_module('services.resources.extraction'); loaded = 'av' in sys.modules\n"
        "error = m.ExtractionError; print(loaded, 'av' in sys.modules, error.__module__)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert completed.stdout.split() == ["False", "True", "services.documents.base"]


_CONTEXT_PROBE = """
import json, sys
from services.context import build_context
from services.settings import Settings
servers = dict(
    database_url="postgresql+asyncpg://jiaoyun:unused@127.0.0.1:9/unused",
    s3_endpoint="http://127.0.0.1:9",
    s3_access_key="unused",
    s3_secret_key="unused",
    elasticsearch_url="http://127.0.0.1:9",
    secret_key="a-test-secret-key-that-is-long-enough-to-pass",
)
settings = Settings(data_dir=sys.argv[2], **(servers if sys.argv[1] == "servers" else {}))
build_context(settings)  # connects to nothing
names = ("search.embedded", "pyroaring", "search.elastic", "elasticsearch", "aiohttp", "minio")
print(json.dumps(sorted(name for name in names if name in sys.modules)))
"""


def _context_imports(mode: str, data_dir: Path) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", _CONTEXT_PROBE, mode, str(data_dir)],
        # Only these settings: none of the caller's JIAOYUN_* variables.
        env={name: value for name, value in os.environ.items() if not name.startswith("JIAOYUN_")},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return loaded


def test_a_context_imports_the_clients_of_its_own_backends_only(tmp_path: Path) -> None:
    assert _context_imports("servers", tmp_path / "servers") == [
        "aiohttp",
        "elasticsearch",
        "minio",
        "search.elastic",
    ]
    assert _context_imports("embedded", tmp_path / "embedded") == ["pyroaring", "search.embedded"]
