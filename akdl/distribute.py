"""Choosing the ``tf.distribute`` strategy that TF_CONFIG implies (runs in the TF process).

============================  ============================================================
cluster                       what :func:`strategy_from_tf_config` does
============================  ============================================================
one task                      returns the default strategy
workers only                  returns ``MultiWorkerMirroredStrategy`` (all-reduce)
workers and ps                chief: returns ``ParameterServerStrategy`` (drive it with a
                              ``ClusterCoordinator``); other workers and ps: serve with
                              ``server.join()`` and never return; the runner ends them
                              once the chief is done
============================  ============================================================
"""

from __future__ import annotations

import json
import os
from typing import Any, NoReturn

__all__ = ["cluster_spec", "serve_forever", "strategy_from_tf_config"]


def cluster_spec() -> dict[str, Any]:
    """TF_CONFIG as a dict (``{}`` when unset)."""
    return json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")


def serve_forever() -> NoReturn:
    """Start this task's TF server and serve until the job ends (parameter-server layouts)."""
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    server = tf.distribute.Server(
        resolver.cluster_spec(), job_name=resolver.task_type, task_index=resolver.task_id,
        protocol=resolver.rpc_layer or "grpc", start=True,
    )
    server.join()
    raise RuntimeError("server.join() returned")  # pragma: no cover (it never does)


def strategy_from_tf_config() -> Any:
    """The strategy for this cluster (see the module table).

    Raises:
        ValueError: parameter servers without a worker besides the chief, which
            ``ParameterServerStrategy`` cannot use.
    """
    import tensorflow as tf

    config = cluster_spec()
    cluster = config.get("cluster", {})
    task_type = config.get("task", {}).get("type", "chief")
    if sum(len(addresses) for addresses in cluster.values()) <= 1:
        return tf.distribute.get_strategy()
    if cluster.get("ps"):
        if not cluster.get("worker"):
            raise ValueError(
                "ParameterServerStrategy needs a worker besides the chief: set numWorkers >= 2"
            )
        if task_type in ("worker", "ps"):
            serve_forever()
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        return tf.distribute.experimental.ParameterServerStrategy(resolver)
    return tf.distribute.MultiWorkerMirroredStrategy()
