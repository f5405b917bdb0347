#!/usr/bin/env bash
# Regenerates the committed protobuf/gRPC Python code from bridge/protos/*.proto.
# tests/unit/test_protos_synced.py fails when the committed code is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
out="${1:-.}"
"$PY" -m grpc_tools.protoc -I. --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" bridge/protos/*.proto
# Message-only protos get an empty *_pb2_grpc.py; drop those.
for f in "$out"/bridge/protos/*_pb2_grpc.py; do
  grep -q "class .*Stub" "$f" || rm -f "$f"
done
