"""Pure functions for the TF cluster layout (both processes).

Roles without tasks are left out of the cluster: an empty job list crashes
MultiWorkerMirroredStrategy. The task numbering is `bridge.task_ref`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bridge.task_ref import Role, TaskRef

__all__ = ["build_cluster", "build_tf_config"]


def build_cluster(worker_addresses: Sequence[str], ps_addresses: Sequence[str]) -> dict:
    """The ``cluster`` part of TF_CONFIG.

    Args:
        worker_addresses: ``host:port`` of the workers in subtask order, the chief first.
        ps_addresses: ``host:port`` of ps 0..P-1.
    """
    cluster: dict[str, list[str]] = {}
    if worker_addresses:
        cluster[Role.CHIEF.value] = [worker_addresses[0]]
    if len(worker_addresses) > 1:
        cluster[Role.WORKER.value] = list(worker_addresses[1:])
    if ps_addresses:
        cluster[Role.PS.value] = list(ps_addresses)
    return cluster


def build_tf_config(cluster: dict, task: TaskRef) -> str:
    """The TF_CONFIG JSON string for one task.

    Raises:
        ValueError: the task is not in the cluster.
    """
    task_type = task.role.value
    if task_type not in cluster or not 0 <= task.index < len(cluster[task_type]):
        raise ValueError(f"task {task.label} is not in cluster {cluster}")
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": task.index}})
