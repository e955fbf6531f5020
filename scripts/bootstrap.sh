#!/usr/bin/env bash
# Creates .venv and installs Jiaoyun into it (editable, with dev tools); reinstalls only when
# pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# 3.13 and newer: the OCR engine (rapidocr_onnxruntime) has no wheels for them yet.
if ! "$PYTHON" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info < (3, 13))'; then
    echo "Jiaoyun needs Python 3.11 or 3.12 ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.jiaoyun-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --quiet -e ".[dev]" >&2
    echo "$wanted" > "$stamp"
fi
