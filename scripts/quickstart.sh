#!/usr/bin/env bash
# Creates .venv if missing, installs akdl into it, and runs the seed example on the embedded
# local Flink mini-cluster. Needs Python 3.11 and Java 17.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "."
.venv/bin/python examples/seed_example.py
