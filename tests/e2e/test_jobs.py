"""Jobs in one driver: each job's coordinators are its own, and cleanup touches only ours."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from session_processes import SESSION_VAR, driver_environ, reap_leftovers

from operators import (
    MemSourceBatchOp,
    RandomTableSourceStreamOp,
    TensorFlowBatchOp,
    TensorFlowStreamOp,
)

pytestmark = pytest.mark.e2e

WAIT_FOR_FILE = """
    import os
    import time

    import tensorflow as tf

    def main(task_config):
        go = task_config.user_params["go"]
        deadline = time.monotonic() + 120
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{go} never appeared")
            time.sleep(0.1)
        n = sum(1 for _ in tf.data.TFRecordDataset(task_config.dataset_file))
        task_config.output_writer.write_row({"n": n})
"""

ECHO_STREAM = """
    import tensorflow as tf

    SPEC = {"id": tf.io.FixedLenFeature([], tf.int64)}

    def main(task_config):
        for record in task_config.dataset_fn():
            row = tf.io.parse_single_example(record, SPEC)
            task_config.output_writer.write_row({"id": int(row["id"])})
"""


def test_cancelling_one_job_leaves_another_job_of_the_driver_running(
    local_env, write_script, tmp_path
):
    go = str(tmp_path / "go")
    waiting = TensorFlowBatchOp(
        user_files=[write_script("wait.py", WAIT_FOR_FILE)], main_script_file="wait.py",
        user_params={"go": go}, output_schema_str="n long", num_workers=2,
        rendezvous_timeout_s=120.0,
    ).linkFrom(MemSourceBatchOp([(i,) for i in range(1000)], "id long"))
    result: dict = {}

    def run_batch():
        try:
            result["rows"] = waiting.collect()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            result["error"] = exc

    batch = threading.Thread(target=run_batch)
    batch.start()
    # The second job: an unbounded stream, cancelled after 20 rows while the first still runs.
    source = RandomTableSourceStreamOp(num_cols=1).select("CAST(col0 * 1e9 AS BIGINT) AS id")
    echo = TensorFlowStreamOp(
        user_files=[write_script("echo.py", ECHO_STREAM)], main_script_file="echo.py",
        output_schema_str="id long", num_workers=1,
    )
    sampled = source.link(echo).collect(max_rows=20)
    assert len(sampled) == 20
    assert batch.is_alive(), f"the batch job ended before the stream job was cancelled: {result}"
    open(go, "w").close()
    batch.join(180)
    assert "error" not in result, result.get("error")
    counts = [r[0] for r in result["rows"]]
    assert len(counts) == 2 and sum(counts) == 1000


def test_cleanup_leaves_a_runner_process_of_another_session_alone(local_env, write_script):
    env = {k: v for k, v in driver_environ().items() if k != SESSION_VAR}
    decoy = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", "akdl.runner"], env=env
    )
    try:
        count = TensorFlowBatchOp(
            user_files=[write_script("count.py", WAIT_FOR_FILE.replace(
                'go = task_config.user_params["go"]', 'go = task_config.work_dir'))],
            main_script_file="count.py", output_schema_str="n long", num_workers=1,
        ).linkFrom(MemSourceBatchOp([(i,) for i in range(10)], "id long"))
        assert [r[0] for r in count.collect()] == [10]
        assert reap_leftovers() == []  # what the suite's fixture does after every test
        assert decoy.poll() is None, "the cleanup killed a process it did not start"
    finally:
        decoy.kill()
        decoy.wait()
