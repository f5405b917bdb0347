"""A real standalone Flink cluster from the installed wheel: 2 TaskManagers x 2 slots.

The TF stages run inside the TaskManagers' Python workers (process mode); jobs are submitted
with ``flink run -py`` and with ``use_remote_env``: the seed example on 2 workers + 1 PS, a
stream, train then predict (on the columnar path), a user error, a cancel, and the stop. The
steps share one cluster and run in order; each prints its time. On when ``--cluster`` is
passed or ``AKDL_CLUSTER_TESTS=1`` (``scripts/test.sh`` sets it unless told otherwise).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import warnings

import psutil
import pytest
from session_processes import driver_environ, session_runners

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER_TOOL = os.path.join(REPO, "scripts", "flink_cluster.py")


def cluster_tool(cluster_dir, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, CLUSTER_TOOL, "--dir", str(cluster_dir), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=driver_environ())


def tree_of(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            found += [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


class Cluster:
    """The test's cluster: its directory, REST port and the pids of its JVMs."""

    def __init__(self, root):
        self.root = root
        self.rest_port = 0
        self.jvm_pids: list[int] = []
        self.taskmanager_pids: list[int] = []
        # TaskManagers that Flink's own cancel race ended (see lost_to_flink_cancel_race).
        self.lost_taskmanagers: list[int] = []

    def flink(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return cluster_tool(self.root, "flink", *args, timeout=timeout)


@pytest.fixture(scope="module", autouse=True)
def restore_environ():
    """Later tests start drivers with this process's environment: leave it as it was.

    After these tests, drivers started by later tests failed to launch Java ("bin/java").
    """
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("flink-cluster")
    started = time.monotonic()
    done = cluster_tool(root, "start", "--taskmanagers", "2", "--slots", "2", "--rest-port", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"\n[cluster] step 1, start 2 TaskManagers x 2 slots: "
          f"{time.monotonic() - started:.1f} s ({done.stdout.strip()})")
    c = Cluster(root)
    state = json.loads((root / "cluster.json").read_text())
    c.rest_port = state["rest_port"]
    assert f"http://localhost:{c.rest_port}" in done.stdout
    for pid_file in (root / "pid").glob("*.pid"):
        pids = [int(p) for p in pid_file.read_text().split()]
        c.jvm_pids += pids
        if "taskexecutor" in pid_file.name:
            c.taskmanager_pids += pids
    assert len(c.jvm_pids) == 3 and len(c.taskmanager_pids) == 2  # a JobManager, 2 TaskManagers
    try:
        yield c
    finally:
        cluster_tool(root, "stop")
        for proc in tree_of(c.jvm_pids):  # the stop test checks this; never leave them
            proc.kill()


# What a TaskManager logs when PyFlink's bundle-flush thread and the operator's close race on
# a cancel (Flink 2.3): Beam's environment is released twice, and an exception while cleaning
# up a cancelled task is fatal to the TaskManager. docs/cluster.md describes it.
FLINK_CANCEL_RACE = "Reference count must not be negative"


def lost_to_flink_cancel_race(cluster: Cluster) -> list[int]:
    """TaskManagers that died, each matched by a log naming Flink's cancel race; else fails."""
    dead = [pid for pid in cluster.taskmanager_pids if not psutil.pid_exists(pid)]
    logs = sorted((cluster.root / "log").glob("flink-*-taskexecutor-*.log"))
    raced = [log for log in logs if FLINK_CANCEL_RACE in log.read_text(errors="replace")]
    assert len(dead) <= len(raced), (
        f"{len(dead)} TaskManager(s) died, {len(raced)} of them by Flink's cancel race; "
        f"see {cluster.root / 'log'}")
    return dead


def job_ids(cluster: Cluster, state: str) -> list[str]:
    import urllib.request

    with urllib.request.urlopen(f"http://localhost:{cluster.rest_port}/jobs/overview",
                                timeout=5) as reply:
        jobs = json.load(reply)["jobs"]
    return [j["jid"] for j in jobs if j["state"] == state]


def gauge_max(cluster: Cluster, job_id: str, suffix: str) -> float | None:
    """The largest value over the subtasks of the job's gauge named ``...<suffix>``, if any."""
    import urllib.request

    base = f"http://localhost:{cluster.rest_port}/jobs/{job_id}"
    with urllib.request.urlopen(base, timeout=5) as reply:
        vertices = [v["id"] for v in json.load(reply)["vertices"]]
    for vertex in vertices:
        url = f"{base}/vertices/{vertex}/subtasks/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            names = [m["id"] for m in json.load(reply) if m["id"].endswith(suffix)]
        if names:
            with urllib.request.urlopen(f"{url}?get={names[0]}&agg=max", timeout=5) as reply:
                values = json.load(reply)
            if values:
                return float(values[0]["max"])
    return None


SEED_2W_1PS = """
    import json, sys
    from operators import *

    script, out = sys.argv[1], sys.argv[2]
    source = RandomTableSourceBatchOp().setNumRows(200).setNumCols(10)
    params = {"featureCols": json.dumps(source.getColNames()), "labelCol": "label",
              "batch_size": 16, "num_epochs": 1}
    op = (TensorFlowBatchOp().setUserFiles([script]).setMainScriptFile(script)
          .setUserParams(json.dumps(params))
          .setOutputSchemaStr("model_id long, model_info string")
          .setNumWorkers(2).setNumPSs(1).setRendezvousTimeoutS(120.0))
    rows = source.select("*, case when RAND() > 0.5 then 1. else 0. end as label") \\
        .link(op).collect()
    with open(out, "w") as f:
        json.dump([[r[0], r[1]] for r in rows], f)
"""


def test_1_seed_example_with_two_workers_and_a_ps_through_flink_run(cluster, tmp_path):
    program = tmp_path / "seed_2w_1ps.py"
    program.write_text(textwrap.dedent(SEED_2W_1PS))
    out = tmp_path / "rows.json"
    script = os.path.join(REPO, "examples", "tf_dnn_batch.py")
    finished_before = len(job_ids(cluster, "FINISHED"))
    started = time.monotonic()
    done = cluster.flink("run", "-py", str(program), script, str(out))
    print(f"\n[cluster] step 2, seed example 2 workers + 1 PS via flink run: "
          f"{time.monotonic() - started:.1f} s")
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    rows = json.loads(out.read_text())
    assert sorted(r[0] for r in rows) == list(range(len(rows))) and len(rows) >= 2
    assert [r[1] for r in rows if r[0] == 0] == ["dnn_model.zip"]
    assert len(job_ids(cluster, "FINISHED")) == finished_before + 1  # it ran on the cluster


def test_2_bounded_stream_through_use_remote_env(cluster, write_script):
    from operators import MemSourceStreamOp, TensorFlowStreamOp, use_local_env, use_remote_env

    script = write_script("double.py", """
        import tensorflow as tf

        SPEC = {"id": tf.io.FixedLenFeature([], tf.int64)}

        def main(task_config):
            for record in task_config.dataset_fn():
                i = int(tf.io.parse_single_example(record, SPEC)["id"])
                task_config.output_writer.write_row({"id": i, "twice": 2 * i})
    """)
    finished_before = len(job_ids(cluster, "FINISHED"))
    use_remote_env("localhost", cluster.rest_port, parallelism=2)
    try:
        started = time.monotonic()
        op = TensorFlowStreamOp(user_files=[script], main_script_file="double.py",
                                output_schema_str="id long, twice long", num_workers=2,
                                rendezvous_timeout_s=120.0)
        rows = MemSourceStreamOp([(i,) for i in range(200)], "id long").link(op).collect()
        print(f"\n[cluster] step 3, bounded stream via use_remote_env: "
              f"{time.monotonic() - started:.1f} s")
    finally:
        use_local_env(2)
    assert sorted((r[0], r[1]) for r in rows) == [(i, 2 * i) for i in range(200)]
    assert len(job_ids(cluster, "FINISHED")) == finished_before + 1  # not a local mini-cluster


def test_2b_train_then_predict_through_use_remote_env(cluster):
    """Train on 2 workers, then predict on the columnar path, in the TaskManagers' workers."""
    import random

    from operators import (
        MemSourceBatchOp,
        TFTableModelPredictBatchOp,
        TFTableModelTrainBatchOp,
        use_local_env,
        use_remote_env,
    )

    rng = random.Random(7)
    data = []
    for i in range(2500):
        a, b = rng.uniform(-1, 1), rng.uniform(-1, 1)
        data.append((i, a, b, int(a + b > 0)))
    schema = "id long, f0 double, f1 double, label int"
    params = {"featureCols": json.dumps(["f0", "f1"]), "labelCol": "label",
              "batch_size": 32, "num_epochs": 3, "learning_rate": 0.02}
    use_remote_env("localhost", cluster.rest_port, parallelism=2)
    try:
        started = time.monotonic()
        train = TFTableModelTrainBatchOp(
            main_script_file=os.path.join(REPO, "akdl/models/tf/dnn/dnn_train.py"),
            user_params=json.dumps(params), num_workers=2, rendezvous_timeout_s=120.0,
        ).linkFrom(MemSourceBatchOp(data[:2000], schema))
        model_rows = [tuple(r) for r in train.collect()]
        predict = TFTableModelPredictBatchOp(
            selected_cols=["f0", "f1"], reserved_cols=["id", "label"],
            output_schema_str="probability double, prediction long", data_path="columnar",
        ).linkFrom(MemSourceBatchOp(model_rows, "model_id long, model_info string"),
                   MemSourceBatchOp(data[2000:], schema))
        rows = predict.collect()
        print(f"\n[cluster] step 3b, train on 2 workers then columnar predict via "
              f"use_remote_env: {time.monotonic() - started:.1f} s")
    finally:
        use_local_env(2)
    assert sorted(r[0] for r in rows) == list(range(2000, 2500))
    accuracy = sum(r[1] == r[3] for r in rows) / len(rows)
    assert accuracy >= 0.9


RAISES = """
    import sys
    from operators import *

    open(sys.argv[2], "w").write("def main(task_config):\\n"
                                 "    raise ValueError('the cluster user error 4711')\\n")
    op = TensorFlowBatchOp(user_files=[sys.argv[2]], main_script_file="raises.py",
                           output_schema_str="id long", num_workers=2)
    MemSourceBatchOp([(i,) for i in range(10)], "id long").link(op).collect()
"""


def test_3_a_user_error_reaches_the_client(cluster, tmp_path):
    program = tmp_path / "raises_program.py"
    program.write_text(textwrap.dedent(RAISES))
    failed_before = len(job_ids(cluster, "FAILED"))
    started = time.monotonic()
    done = cluster.flink("run", "-py", str(program), "unused", str(tmp_path / "raises.py"))
    print(f"\n[cluster] step 4, a user error: {time.monotonic() - started:.1f} s")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "ValueError: the cluster user error 4711" in output
    assert "TensorFlowBatchOp" in output
    assert len(job_ids(cluster, "FAILED")) == failed_before + 1


UNBOUNDED = """
    import sys
    from operators import *

    open(sys.argv[1], "w").write(
        "def main(task_config):\\n"
        "    for seen, _ in enumerate(task_config.dataset_fn(), 1):\\n"
        "        if seen % 10 == 0:\\n"
        "            task_config.log_metric('rows_seen', seen)\\n")
    source = RandomTableSourceStreamOp(num_cols=1).setRowsPerSecond(50)
    op = TensorFlowStreamOp(user_files=[sys.argv[1]], main_script_file="forever.py",
                            output_schema_str="id long", num_workers=2)
    source.link(op).print()
    StreamOperator.execute()
"""


def test_4_flink_cancel_leaves_no_tf_process(cluster, tmp_path):
    program = tmp_path / "unbounded.py"
    program.write_text(textwrap.dedent(UNBOUNDED))
    # Attached: the client holds the stage's coordinator while the job runs.
    client = subprocess.Popen(
        [sys.executable, CLUSTER_TOOL, "--dir", str(cluster.root), "flink", "run", "-py",
         str(program), str(tmp_path / "forever.py")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env=driver_environ())
    try:
        deadline = time.monotonic() + 120
        while len(session_runners()) < 2:
            assert client.poll() is None, client.stdout.read()[-4000:]
            assert time.monotonic() < deadline, "the stream's TF processes never started"
            time.sleep(0.5)
        running = job_ids(cluster, "RUNNING")
        assert len(running) == 1
        # What main logs shows as a gauge of the stream's subtasks while it runs.
        deadline = time.monotonic() + 60
        while (seen := gauge_max(cluster, running[0], "akdl.rows_seen")) is None:
            assert time.monotonic() < deadline, "the rows_seen gauge never showed in REST"
            time.sleep(1)
        assert seen >= 10
        started = time.monotonic()
        cancel = cluster.flink("cancel", running[0], timeout=60)
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        gone, alive = psutil.wait_procs(session_runners(), timeout=15)
        print(f"\n[cluster] step 5, flink cancel to no TF process: "
              f"{time.monotonic() - started:.1f} s")
        assert alive == [], f"TF processes alive 15 s after flink cancel: {alive}"
        client.wait(60)
        cluster.lost_taskmanagers = lost_to_flink_cancel_race(cluster)
        if cluster.lost_taskmanagers:
            warnings.warn(f"flink cancel ended TaskManager(s) {cluster.lost_taskmanagers} by "
                          f"Flink's own race ({FLINK_CANCEL_RACE!r}); see docs/cluster.md",
                          stacklevel=1)
    finally:
        for job_id in job_ids(cluster, "RUNNING"):  # failed before its cancel: end the job
            cluster.flink("cancel", job_id, timeout=60)
        if client.poll() is None:
            for proc in tree_of([client.pid]):
                proc.kill()


def test_5_stop_leaves_no_process_of_ours(cluster):
    tree = tree_of(cluster.jvm_pids)
    assert lost_to_flink_cancel_race(cluster) == cluster.lost_taskmanagers
    assert len(tree) >= 3 - len(cluster.lost_taskmanagers)
    started = time.monotonic()
    done = cluster_tool(cluster.root, "stop")
    print(f"\n[cluster] step 6, stop: {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    gone, alive = psutil.wait_procs(tree, timeout=15)
    assert alive == [], f"processes of the cluster alive after stop: {alive}"
    assert session_runners() == []
    status = cluster_tool(cluster.root, "status")
    assert status.returncode == 1
