"""examples/workflow.py end to end: SQL prep, 2-worker training with metrics, MLflow registry,
scoring through models:/ with the predict operator and the SQL function."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from session_processes import driver_environ

pytestmark = pytest.mark.e2e


def test_the_workflow_example_trains_registers_and_scores(tmp_path, repo_root):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, os.path.join(repo_root, "examples", "workflow.py"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=driver_environ(), cwd=tmp_path,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    output = result.stdout
    assert "trained and registered akdl-workflow-dnn version 1" in output
    training = re.search(r"training accuracy of the last epoch: \{'chief:0': ([\d.]+), "
                         r"'worker:0': ([\d.]+)\}", output)
    assert training, output
    scores = dict(re.findall(r"held-out accuracy through models:/akdl-workflow-dnn/1, "
                             r"(predict operator|SQL function): ([\d.]+)", output))
    assert set(scores) == {"predict operator", "SQL function"}, output
    # The same model over the same held-out rows: the two paths agree exactly.
    assert scores["predict operator"] == scores["SQL function"]
    assert float(scores["predict operator"]) >= 0.9
    with open(out / "metrics.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
