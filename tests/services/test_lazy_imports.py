"""The API process loads no file-reading library at start (issue 19: idle RSS ≤ 150 MiB)."""

from __future__ import annotations

import json
import subprocess
import sys

# Libraries only the worker (or its children) needs, with what they cost resident when imported.
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
)

_PROBE = """
import json, sys
from services.app import create_app
create_app()
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in set(sys.argv[1:]))))
"""


def test_creating_the_app_imports_no_heavy_library() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, *HEAVY], capture_output=True, text=True, check=True, timeout=120
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
