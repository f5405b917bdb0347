"""Distributed TF clusters: many workers, parameter servers, TF_CONFIG, rendezvous, abort."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time

import pytest
from py4j.protocol import Py4JJavaError

from operators import MemSourceBatchOp, TensorFlowBatchOp

pytestmark = pytest.mark.e2e



def tf_op(script: str, output_schema: str, workers: int, ps: int = 0, **params):
    return TensorFlowBatchOp(
        user_files=[script], main_script_file=os.path.basename(script),
        output_schema_str=output_schema, num_workers=workers, num_ps=ps,
        rendezvous_timeout_s=120.0, **params,
    )


WHO_SCRIPT = """
    import json, os

    def main(task_config):
        tf_config = json.loads(os.environ["TF_CONFIG"])
        task_config.output_writer.write_row({
            "task": f"{task_config.task_type}:{task_config.task_index}",
            "length": task_config.dataset_length,
            "lengths": json.dumps(task_config.worker_dataset_lengths),
            "tf_config": json.dumps(tf_config),
            "cluster_agrees": tf_config["cluster"] == task_config.cluster
                and tf_config["task"] == {"type": task_config.task_type,
                                          "index": task_config.task_index},
        })
"""
WHO_SCHEMA = "task string, length long, lengths string, tf_config string, cluster_agrees boolean"


def test_three_workers_get_exact_uneven_shards_and_the_chief_layout(local_env, write_script):
    script = write_script("who.py", WHO_SCRIPT)
    rows = MemSourceBatchOp([(i,) for i in range(1000)], "x long") \
        .link(tf_op(script, WHO_SCHEMA, workers=3)).collect()
    by_task = {r[0]: r for r in rows}
    assert sorted(by_task) == ["chief:0", "worker:0", "worker:1"]
    lengths = [by_task[t][1] for t in ("chief:0", "worker:0", "worker:1")]
    assert sum(lengths) == 1000 and all(n > 0 for n in lengths)
    assert all(json.loads(r[2]) == lengths for r in rows)
    assert all(r[4] for r in rows)
    cluster = json.loads(by_task["chief:0"][3])["cluster"]
    assert sorted(cluster) == ["chief", "worker"] and len(cluster["worker"]) == 2


def test_one_row_over_three_workers_finishes(local_env, write_script):
    script = write_script("who.py", WHO_SCRIPT)
    rows = MemSourceBatchOp([(7,)], "x long").link(tf_op(script, WHO_SCHEMA, workers=3)).collect()
    assert sorted(r[1] for r in rows) == [0, 0, 1]


def separable(n: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.random(), rng.random()
        rows.append((a, b, 1.0 if a + b > 1.0 else 0.0))
    return rows


def test_all_reduce_dnn_over_three_workers_beats_chance(local_env, tmp_path, repo_root):
    from akdl import model_rows_to_saved_model

    params = {"featureCols": json.dumps(["a", "b"]), "labelCol": "label",
              "batch_size": 16, "num_epochs": 20, "learning_rate": 0.05}
    script = os.path.join(repo_root, "examples", "tf_dnn_batch.py")
    op = tf_op(script, "model_id long, model_info string", workers=3,
               user_params=json.dumps(params))
    rows = MemSourceBatchOp(separable(1000, 1), "a double, b double, label double") \
        .link(op).collect()
    assert [r[1] for r in rows if r[0] == 0] == ["dnn_model.zip"]  # once, from the chief
    model_dir = model_rows_to_saved_model(rows, str(tmp_path / "model"))
    held_out = separable(400, 2)
    code = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        rows = np.array({held_out!r}, dtype="float32")
        serve = tf.saved_model.load({model_dir!r}).signatures["serving_default"]
        out = serve(a=tf.constant(rows[:, 0]), b=tf.constant(rows[:, 1]))
        print("ACCURACY", float((out["prediction"].numpy() == rows[:, 2]).mean()))
    """)
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0, check.stderr[-3000:]
    accuracy = float(check.stdout.split("ACCURACY")[1])
    assert accuracy >= 0.75, accuracy


PS_TUTORIAL_SCRIPT = """
    import tensorflow as tf

    def main(task_config):
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        if resolver.task_type in ("worker", "ps"):
            server = tf.distribute.Server(
                resolver.cluster_spec(), job_name=resolver.task_type,
                task_index=resolver.task_id, protocol="grpc", start=True)
            server.join()
        strategy = tf.distribute.experimental.ParameterServerStrategy(resolver)
        coordinator = tf.distribute.experimental.coordinator.ClusterCoordinator(strategy)
        with strategy.scope():
            counter = tf.Variable(0.0)

        @tf.function
        def step():
            counter.assign_add(1.0)
            return counter.read_value()

        for _ in range(10):
            coordinator.schedule(step)
        coordinator.join()
        task_config.output_writer.write_row(
            {"device": counter.device, "value": float(counter.numpy())})
"""


def test_tf_parameter_server_tutorial_pattern_completes(local_env, write_script):
    script = write_script("ps_tutorial.py", PS_TUTORIAL_SCRIPT)
    rows = MemSourceBatchOp([(i,) for i in range(30)], "x long") \
        .link(tf_op(script, "device string, value double", workers=3, ps=1)).collect()
    assert len(rows) == 1
    assert "/job:ps" in rows[0][0] and rows[0][1] == 10.0


HELPER_PS_SCRIPT = """
    import tensorflow as tf
    from akdl.distribute import strategy_from_tf_config

    def main(task_config):
        strategy = strategy_from_tf_config()  # workers and ps serve here and never return
        coordinator = tf.distribute.experimental.coordinator.ClusterCoordinator(strategy)
        with strategy.scope():
            weight = tf.Variable(1.0)

        @tf.function
        def step():
            weight.assign_add(0.5)

        for _ in range(4):
            coordinator.schedule(step)
        coordinator.join()
        task_config.output_writer.write_row({"device": weight.device,
                                             "value": float(weight.numpy())})
"""


def test_two_workers_and_a_ps_place_variables_on_the_ps_and_end(local_env, write_script):
    script = write_script("helper_ps.py", HELPER_PS_SCRIPT)
    started = time.monotonic()
    rows = MemSourceBatchOp([(i,) for i in range(10)], "x long") \
        .link(tf_op(script, "device string, value double", workers=2, ps=1)).collect()
    assert [(r[0].split("/device")[0], r[1]) for r in rows] == [("/job:ps/replica:0/task:0", 3.0)]
    assert time.monotonic() - started < 120  # the PS and the worker were ended, not waited on


FAILING_WORKER_SCRIPT = """
    import tensorflow as tf

    def main(task_config):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        if task_config.task_type == "worker":
            raise ValueError("worker one exploded on purpose")
        # The chief now waits in an all-reduce for a peer that will never join.
        value = strategy.reduce(
            tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)
        task_config.output_writer.write_row({"total": float(value)})
"""


def test_a_failing_worker_ends_the_job_with_its_error(local_env, write_script):
    script = write_script("fails.py", FAILING_WORKER_SCRIPT)
    started = time.monotonic()
    with pytest.raises(Py4JJavaError) as info:
        MemSourceBatchOp([(i,) for i in range(20)], "x long") \
            .link(tf_op(script, "total double", workers=2)).collect()
    assert "worker one exploded on purpose" in str(info.value)
    assert time.monotonic() - started < 150


def test_seed_program_with_two_workers_and_a_ps_emits_the_model_once(local_env, repo_root):
    from operators import RandomTableSourceBatchOp

    source = RandomTableSourceBatchOp().setNumRows(200).setNumCols(10)
    params = {"featureCols": json.dumps(source.getColNames()), "labelCol": "label",
              "batch_size": 16, "num_epochs": 1}
    script = os.path.join(repo_root, "examples", "tf_dnn_batch.py")
    op = (TensorFlowBatchOp().setUserFiles([script]).setMainScriptFile(script)
          .setUserParams(json.dumps(params))
          .setOutputSchemaStr("model_id long, model_info string")
          .setNumWorkers(2).setNumPSs(1).setRendezvousTimeoutS(120.0))
    rows = source.select("*, case when RAND() > 0.5 then 1. else 0. end as label") \
        .link(op).collect()
    ids = sorted(r[0] for r in rows)
    assert ids == list(range(len(rows))) and len(rows) >= 2  # one model, not one per task
    assert [r[1] for r in rows if r[0] == 0] == ["dnn_model.zip"]


def test_more_tf_processes_than_slots_fails_before_the_job(write_script):
    from bridge.errors import ParamError
    from operators import use_local_env

    use_local_env(2, {"taskmanager.numberOfTaskSlots": "2"})
    try:
        script = write_script("who.py", WHO_SCRIPT)
        with pytest.raises(ParamError, match="numberOfTaskSlots = 2") as info:
            MemSourceBatchOp([(1,)], "x long").link(tf_op(script, WHO_SCHEMA, workers=2, ps=1))
        assert "at least 3 slots" in str(info.value)
    finally:
        use_local_env(2)


def test_without_counts_every_subtask_is_a_worker(local_env, write_script):
    script = write_script("who.py", WHO_SCRIPT)
    op = TensorFlowBatchOp(user_files=[script], main_script_file="who.py",
                           output_schema_str=WHO_SCHEMA)
    rows = MemSourceBatchOp([(i,) for i in range(50)], "x long").link(op).collect()
    assert sorted(r[0] for r in rows) == ["chief:0", "worker:0"]  # local_env parallelism 2
    assert sum(r[1] for r in rows) == 50
    assert all("ps" not in json.loads(r[3])["cluster"] for r in rows)
