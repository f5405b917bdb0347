"""The pure TF cluster layout: Flink subtasks to TF tasks, cluster dicts and TF_CONFIG."""

import json

import pytest

from bridge.cluster import build_cluster, build_tf_config
from bridge.protos import channel_pb2
from bridge.task_ref import Role, TaskRef, stage_tasks


@pytest.mark.parametrize(
    ("subtask", "role", "index", "label"),
    [
        (0, Role.CHIEF, 0, "chief:0"),
        (1, Role.WORKER, 0, "worker:0"),
        (2, Role.WORKER, 1, "worker:1"),
        (3, Role.PS, 0, "ps:0"),
        (4, Role.PS, 1, "ps:1"),
    ],
)
def test_subtasks_of_three_workers_and_two_ps(subtask, role, index, label):
    task = TaskRef.of_subtask(subtask, num_workers=3)
    assert (task.role, task.index, task.subtask) == (role, index, subtask)
    assert task.label == str(task) == label
    assert task.describe() == f"{label} (subtask {subtask})"
    assert TaskRef.from_proto(task.to_proto()) == task


def test_single_worker_is_the_chief():
    assert TaskRef.of_subtask(0, num_workers=1).label == "chief:0"
    assert TaskRef.of_subtask(1, num_workers=1).label == "ps:0"


def test_stage_tasks_come_in_subtask_order():
    assert [t.describe() for t in stage_tasks(2, 1)] == [
        "chief:0 (subtask 0)", "worker:0 (subtask 1)", "ps:0 (subtask 2)"
    ]


def test_a_task_id_without_a_role_is_rejected():
    with pytest.raises(ValueError, match="without a role"):
        TaskRef.from_proto(channel_pb2.TaskId(index=0))


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


@pytest.mark.parametrize(("role", "index"), [(Role.CHIEF, 0), (Role.WORKER, 1), (Role.PS, 0)])
def test_tf_config_json(role, index):
    config = json.loads(build_tf_config(CLUSTER, TaskRef(role, index, 0)))
    assert config == {"cluster": CLUSTER, "task": {"type": role.value, "index": index}}


@pytest.mark.parametrize(
    ("role", "index"), [(Role.CHIEF, 1), (Role.WORKER, 2), (Role.PS, 1), (Role.WORKER, -1)]
)
def test_tf_config_rejects_a_task_outside_the_cluster(role, index):
    with pytest.raises(ValueError, match=f"task {role.value}:{index} is not in cluster"):
        build_tf_config(CLUSTER, TaskRef(role, index, 0))


def test_tf_config_rejects_a_role_left_out_of_the_cluster():
    with pytest.raises(ValueError, match="task ps:0 is not in cluster"):
        build_tf_config(build_cluster(["h:1"], []), TaskRef(Role.PS, 0, 1))
