"""The pure TF cluster layout: Flink subtasks to TF tasks, cluster dicts and TF_CONFIG."""

import json

import pytest

from bridge.cluster import build_cluster, build_tf_config, flink_task, task_label, tf_task
from bridge.protos import channel_pb2

WORKER, PS = channel_pb2.WORKER, channel_pb2.PS


@pytest.mark.parametrize(
    ("subtask", "role", "index", "tf", "label"),
    [
        (0, WORKER, 0, ("chief", 0), "chief:0"),
        (1, WORKER, 1, ("worker", 0), "worker:0"),
        (2, WORKER, 2, ("worker", 1), "worker:1"),
        (3, PS, 0, ("ps", 0), "ps:0"),
        (4, PS, 1, ("ps", 1), "ps:1"),
    ],
)
def test_subtasks_of_three_workers_and_two_ps(subtask, role, index, tf, label):
    task = flink_task(subtask, num_workers=3)
    assert (task.role, task.index) == (role, index)
    assert tf_task(task) == tf
    assert task_label(task) == label


def test_single_worker_is_the_chief():
    assert task_label(flink_task(0, num_workers=1)) == "chief:0"
    assert task_label(flink_task(1, num_workers=1)) == "ps:0"


def test_ps_index_zero_is_not_the_chief():
    assert tf_task(channel_pb2.TaskId(role=PS, index=0)) == ("ps", 0)


def test_cluster_of_workers_and_ps():
    cluster = build_cluster(["h:1", "h:2", "h:3"], ["h:4", "h:5"])
    assert cluster == {"chief": ["h:1"], "worker": ["h:2", "h:3"], "ps": ["h:4", "h:5"]}


@pytest.mark.parametrize(
    ("workers", "ps", "expected"),
    [
        (["h:1"], [], {"chief": ["h:1"]}),
        (["h:1", "h:2"], [], {"chief": ["h:1"], "worker": ["h:2"]}),
        (["h:1"], ["h:9"], {"chief": ["h:1"], "ps": ["h:9"]}),
        ([], [], {}),
    ],
)
def test_cluster_omits_empty_roles(workers, ps, expected):
    cluster = build_cluster(workers, ps)
    assert cluster == expected
    assert all(cluster.values()), "an empty job list crashes MultiWorkerMirroredStrategy"


def test_cluster_lists_are_copies():
    workers = ["h:1", "h:2"]
    cluster = build_cluster(workers, [])
    cluster["worker"].append("h:3")
    assert workers == ["h:1", "h:2"]


CLUSTER = {"chief": ["h:1"], "worker": ["h:2", "h:3"], "ps": ["h:4"]}


@pytest.mark.parametrize(("task_type", "index"), [("chief", 0), ("worker", 1), ("ps", 0)])
def test_tf_config_json(task_type, index):
    config = json.loads(build_tf_config(CLUSTER, task_type, index))
    assert config == {"cluster": CLUSTER, "task": {"type": task_type, "index": index}}


@pytest.mark.parametrize(
    ("task_type", "index"),
    [("chief", 1), ("worker", 2), ("ps", 1), ("worker", -1), ("evaluator", 0)],
)
def test_tf_config_rejects_a_task_outside_the_cluster(task_type, index):
    with pytest.raises(ValueError, match=f"task {task_type}:{index} is not in cluster"):
        build_tf_config(CLUSTER, task_type, index)


def test_tf_config_rejects_a_role_left_out_of_the_cluster():
    with pytest.raises(ValueError, match="task ps:0 is not in cluster"):
        build_tf_config(build_cluster(["h:1"], []), "ps", 0)
