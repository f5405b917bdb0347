#!/usr/bin/env bash
# A local standalone Flink cluster from the installed apache-flink wheel; its config, logs and
# pids live in .flink-cluster/ (git-ignored). Run after quickstart.sh or test.sh made .venv.
#   bash scripts/flink-cluster.sh start [--taskmanagers N] [--slots S] [--rest-port P]
#   bash scripts/flink-cluster.sh status | stop
#   bash scripts/flink-cluster.sh flink run -py examples/seed_example.py
# See scripts/flink_cluster.py and docs/cluster.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "no .venv here: run 'bash scripts/quickstart.sh' or 'bash scripts/test.sh' first" >&2
  exit 1
fi
exec .venv/bin/python scripts/flink_cluster.py "$@"
