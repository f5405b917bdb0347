#!/usr/bin/env bash
# Creates or updates .venv with the test extras and runs the whole test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not e2e"` for the quick subset.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ".[test]"
.venv/bin/python -m ruff check .
# The tests marked cluster start a real standalone Flink cluster (about 2 minutes); they run
# by default. AKDL_CLUSTER_TESTS=0 skips them.
export AKDL_CLUSTER_TESTS="${AKDL_CLUSTER_TESTS:-1}"
# Every process the run starts inherits this marker; the sweep after pytest ends any that
# outlived it (they would hold this script's output open), and only those.
AKDL_TEST_SESSION="$(.venv/bin/python -c 'import uuid; print(uuid.uuid4().hex)')"
export AKDL_TEST_SESSION
status=0
.venv/bin/python -m pytest "$@" || status=$?
.venv/bin/python tests/session_processes.py
exit "$status"
