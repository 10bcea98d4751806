#!/usr/bin/env bash
# Creates (or reuses) the two conformance virtualenvs at the repository root, both gitignored:
#   .venv-old  extend-ai==0.2.0   (the 2025-04-21 models)
#   .venv-new  extend-ai==1.20.0  (the 2026-02-09 models, Webhooks.verify)
# Idempotent: a venv that already has the pinned versions is left alone; a missing or different one is
# (re)built. Quiet unless something fails. PYTHON overrides the interpreter (3.9+; tomllib in the other
# scripts needs 3.11+, which the venvs then also have).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
PYDANTIC_VERSION="2.14.3"   # pinned so that both venvs validate with the same pydantic

ensure_venv() {
    local dir="$1" sdk="$2"
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" - "$sdk" "$PYDANTIC_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("extend-ai"), version("pydantic")) == (sys.argv[1], sys.argv[2]) else 1)
PY
    then
        return 0
    fi
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "extend-ai==$sdk" "pydantic==$PYDANTIC_VERSION" \
        || { echo "setup.sh: installing extend-ai==$sdk into $dir failed" >&2; exit 1; }
}

ensure_venv "$ROOT/.venv-old" 0.2.0
ensure_venv "$ROOT/.venv-new" 1.20.0
