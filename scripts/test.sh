#!/usr/bin/env bash
# Creates or updates .venv with the test extras and runs the whole test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not e2e"` for the quick subset.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[test]"
.venv/bin/python -m ruff check .
.venv/bin/python -m pytest "$@"
