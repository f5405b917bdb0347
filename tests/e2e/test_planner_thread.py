"""Planning still works after py4j moved the driver's calls to another Java thread (FLINK-23020)."""

from __future__ import annotations

import threading
import time

import pytest
from pyflink.java_gateway import get_gateway

from operators import MemSourceBatchOp, TensorFlowBatchOp

pytestmark = pytest.mark.e2e


def switch_py4j_thread() -> None:
    """Leave a second py4j connection (a fresh Java thread) on top of the client's pool.

    A call made while another is in flight opens a new connection; the one returned last is
    reused first, so the main thread's next calls run on the fresh Java thread.
    """
    jvm = get_gateway().jvm

    def late_call():
        time.sleep(0.2)
        jvm.java.lang.Thread.sleep(1500)

    caller = threading.Thread(target=late_call)
    caller.start()
    jvm.java.lang.Thread.sleep(1000)
    caller.join()


def test_a_tf_stage_plans_on_a_fresh_java_thread(local_env, write_script):
    script = write_script("noop.py", """
        def main(task_config):
            pass
    """)
    MemSourceBatchOp([(1,)], "id long").select("id + 1 AS x").collect()  # planner built
    switch_py4j_thread()
    assert len(get_gateway()._gateway_client.deque) >= 2
    op = MemSourceBatchOp([(1,)], "id long").link(
        TensorFlowBatchOp(main_script_file=script, output_schema_str="id long"))
    # The stage's UNION ALL query failed here with "NullPointerException: metadataHandlerProvider".
    assert op.getColNames() == ["id"]
    assert op.collect() == []
