"""The committed protobuf/gRPC code matches what scripts/gen_protos.sh generates now."""

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROTOS = REPO / "bridge" / "protos"
FIX = "the generated protobuf code is stale; run `bash scripts/gen_protos.sh` and commit it"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generated_names(folder):
    return {p.name for p in folder.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("protos")
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "gen_protos.sh"), str(out)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, f"gen_protos.sh failed:\n{done.stderr}"
    return out / "bridge" / "protos"


def test_every_proto_has_generated_code(fresh):
    protos = {p.stem for p in PROTOS.glob("*.proto")}
    assert protos, "no .proto files found"
    assert {name.removesuffix(".py") for name in generated_names(fresh) if
            name.endswith("_pb2.py")} == {f"{stem}_pb2" for stem in protos}


def test_no_generated_file_is_missing_or_extra(fresh):
    committed, regenerated = generated_names(PROTOS), generated_names(fresh)
    assert committed == regenerated, (
        f"{FIX}; missing: {sorted(regenerated - committed)}, "
        f"extra: {sorted(committed - regenerated)}"
    )


def test_generated_files_are_byte_identical(fresh):
    stale = [
        name for name in sorted(generated_names(fresh) & generated_names(PROTOS))
        if not filecmp.cmp(fresh / name, PROTOS / name, shallow=False)
    ]
    assert not stale, f"{FIX}; differing: {stale}"
