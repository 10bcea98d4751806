#!/usr/bin/env bash
# Creates (or reuses) .venv-standard at the repository root (gitignored) with the official Standard
# Webhooks library, standardwebhooks==1.1.0 from PyPI: the oracle of tests/conformance/standard_webhooks.py.
# Idempotent: a venv that already has the pinned version is left alone; a missing or different one is
# (re)built. Quiet unless something fails. PYTHON overrides the interpreter (3.9+).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VERSION="1.1.0"
DIR="$ROOT/.venv-standard"

if [ -x "$DIR/bin/python" ] && "$DIR/bin/python" - "$VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("standardwebhooks") == sys.argv[1] else 1)
PY
then
    exit 0
fi
rm -rf "$DIR"
"$PYTHON" -m venv "$DIR"
"$DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "standardwebhooks==$VERSION" \
    || { echo "setup_standard.sh: installing standardwebhooks==$VERSION into $DIR failed" >&2; exit 1; }
