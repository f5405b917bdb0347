"""Two simulated hosts: each TaskManager in its own network namespace (root and ``ip`` only).

Loopback no longer reaches the other TaskManager or the driver, as on separate machines. The
distributed seed example (2 workers + 1 PS, which cannot fit on one host's 2 slots) must form
its TF cluster over the hosts' own addresses and reach the driver's coordinator over the bridge.
On with the other cluster tests (``--cluster`` or ``AKDL_CLUSTER_TESTS=1``); skipped, saying
why, where namespaces cannot be made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import textwrap
import time

import pytest
from test_flink_cluster import SEED_2W_1PS, cluster_tool, restore_environ, tree_of  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
from scripts.netns_hosts import netns_problem  # noqa: E402

WHERE = """
    import json, sys
    from operators import *

    open(sys.argv[1], "w").write(
        "import json, os\\n"
        "def main(task_config):\\n"
        "    if task_config.task_type == 'ps':\\n"
        "        import tensorflow as tf\\n"
        "        tf.distribute.Server(tf.train.ClusterSpec(task_config.cluster), 'ps',\\n"
        "                             task_config.task_index).join()\\n"
        "    task_config.output_writer.write_row({'tf_config': os.environ['TF_CONFIG']})\\n")
    op = TensorFlowBatchOp(user_files=[sys.argv[1]], main_script_file="where.py",
                           output_schema_str="tf_config string", num_workers=2, num_ps=1)
    rows = RandomTableSourceBatchOp(num_rows=10, num_cols=1).link(op).collect()
    json.dump([r[0] for r in rows], open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="module")
def hosts_cluster(tmp_path_factory):
    problem = netns_problem()
    if problem is not None:
        pytest.skip(problem)
    root = tmp_path_factory.mktemp("flink-hosts")
    started = time.monotonic()
    done = cluster_tool(root, "start", "--taskmanagers", "2", "--slots", "2", "--rest-port", "0",
                        "--netns")
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"\n[hosts] start 2 TaskManagers on 2 simulated hosts: "
          f"{time.monotonic() - started:.1f} s")
    state = json.loads((root / "cluster.json").read_text())
    jvms = [int(p) for f in (root / "pid").glob("*.pid") for p in f.read_text().split()]
    try:
        yield root, state
    finally:
        stopped = cluster_tool(root, "stop")
        for proc in tree_of(jvms):
            proc.kill()
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_the_tf_cluster_spans_both_hosts_over_their_own_addresses(hosts_cluster, tmp_path):
    root, _ = hosts_cluster
    program = tmp_path / "where_program.py"
    program.write_text(textwrap.dedent(WHERE))
    out = tmp_path / "where.json"
    done = cluster_tool(root, "flink", "run", "-py", str(program), str(tmp_path / "where.py"),
                        str(out), timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    configs = [json.loads(c) for c in json.loads(out.read_text())]
    assert sorted(c["task"]["type"] for c in configs) == ["chief", "worker"]
    cluster = configs[0]["cluster"]
    assert all(c["cluster"] == cluster for c in configs)
    hosts = {address.rsplit(":", 1)[0] for tasks in cluster.values() for address in tasks}
    # Three tasks on 2 slots per host: two hosts, each by its own (non-loopback) address.
    assert len(hosts) == 2, cluster
    assert not any(ipaddress.ip_address(h).is_loopback for h in hosts), cluster


def test_the_seed_example_with_two_workers_and_a_ps_across_hosts(hosts_cluster, tmp_path):
    root, _ = hosts_cluster
    program = tmp_path / "seed_program.py"
    program.write_text(textwrap.dedent(SEED_2W_1PS))
    out = tmp_path / "model.json"
    started = time.monotonic()
    done = cluster_tool(root, "flink", "run", "-py", str(program),
                        os.path.join(REPO, "examples", "tf_dnn_batch.py"), str(out), timeout=400)
    print(f"\n[hosts] seed example, 2 workers + 1 PS across 2 hosts: "
          f"{time.monotonic() - started:.1f} s")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    rows = json.loads(out.read_text())
    assert rows[0][0] == 0 and rows[0][1].endswith(".zip")
    assert len(rows) >= 2
