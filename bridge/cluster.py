"""Pure functions for the TF cluster layout (both processes).

Flink subtask ``i < num_workers`` is worker ``i``; the rest are parameter servers. In TF_CONFIG
worker 0 is the ``chief``, the other workers are ``worker`` 0..W-2, and the parameter servers are
``ps`` 0..P-1 (Alink's layout). Roles without tasks are left out of the cluster: an empty job list
crashes MultiWorkerMirroredStrategy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bridge.protos import channel_pb2

__all__ = ["build_cluster", "build_tf_config", "flink_task", "task_label", "tf_task"]

CHIEF, WORKER, PS = "chief", "worker", "ps"


def flink_task(subtask_index: int, num_workers: int) -> channel_pb2.TaskId:
    """The Flink-side task of a subtask: worker i for i < num_workers, else ps."""
    if subtask_index < num_workers:
        return channel_pb2.TaskId(role=channel_pb2.WORKER, index=subtask_index)
    return channel_pb2.TaskId(role=channel_pb2.PS, index=subtask_index - num_workers)


def tf_task(task: channel_pb2.TaskId) -> tuple[str, int]:
    """The (task type, task index) of a Flink task in TF_CONFIG."""
    if task.role == channel_pb2.PS:
        return PS, task.index
    if task.index == 0:
        return CHIEF, 0
    return WORKER, task.index - 1


def task_label(task: channel_pb2.TaskId) -> str:
    """A short label such as ``chief:0``, used as the log prefix of a TF process."""
    task_type, index = tf_task(task)
    return f"{task_type}:{index}"


def build_cluster(worker_addresses: Sequence[str], ps_addresses: Sequence[str]) -> dict:
    """The ``cluster`` part of TF_CONFIG from the workers' and PS' ``host:port``, in order."""
    cluster: dict[str, list[str]] = {}
    if worker_addresses:
        cluster[CHIEF] = [worker_addresses[0]]
    if len(worker_addresses) > 1:
        cluster[WORKER] = list(worker_addresses[1:])
    if ps_addresses:
        cluster[PS] = list(ps_addresses)
    return cluster


def build_tf_config(cluster: dict, task_type: str, task_index: int) -> str:
    """The TF_CONFIG JSON string for one task."""
    if task_type not in cluster or not 0 <= task_index < len(cluster[task_type]):
        raise ValueError(f"task {task_type}:{task_index} is not in cluster {cluster}")
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": task_index}})
