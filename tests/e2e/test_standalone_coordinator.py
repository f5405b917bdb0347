"""A stage given a standalone coordinator (python -m bridge.coordinator) uses it, not its own."""

from __future__ import annotations

import subprocess
import sys

import pytest
from session_processes import driver_environ

from bridge.errors import ParamError
from operators import MemSourceBatchOp, TensorFlowBatchOp

pytestmark = pytest.mark.e2e

COUNT = """
    import tensorflow as tf

    def main(task_config):
        n = sum(1 for _ in tf.data.TFRecordDataset(task_config.dataset_file))
        task_config.output_writer.write_row({"task": task_config.task_type, "n": n})
"""


def test_a_stage_runs_its_rounds_on_a_standalone_coordinator(local_env, write_script):
    server = subprocess.Popen(
        [sys.executable, "-m", "bridge.coordinator", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=driver_environ())
    try:
        line = server.stdout.readline().strip()
        assert len(line.split()) == 2, server.stderr.read()
        op = TensorFlowBatchOp(user_files=[write_script("count.py", COUNT)],
                               main_script_file="count.py", output_schema_str="task string, n long",
                               num_workers=2, coordinator=line, rendezvous_timeout_s=120.0)
        rows = MemSourceBatchOp([(i,) for i in range(100)], "id long").link(op).collect()
        assert sorted(r[0] for r in rows) == ["chief", "worker"]
        assert sum(r[1] for r in rows) == 100
        # The job did not stop it: it still serves (a detached job's later rounds need it).
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(15)
    assert server.returncode == 0


@pytest.mark.parametrize("line", ["localhost:1", "no-port token", "a:1 b c"])
def test_a_malformed_coordinator_line_is_a_clear_error(local_env, write_script, line):
    with pytest.raises(ParamError, match=r"coordinator.*host:port token"):
        MemSourceBatchOp([(1,)], "id long").link(TensorFlowBatchOp(
            user_files=[write_script("count.py", COUNT)], main_script_file="count.py",
            output_schema_str="task string, n long", coordinator=line))
