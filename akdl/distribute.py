"""Choosing the ``tf.distribute`` strategy that TF_CONFIG implies (runs in the TF process)."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["cluster_spec", "strategy_from_tf_config"]


def cluster_spec() -> dict[str, Any]:
    """TF_CONFIG as a dict (``{}`` when unset)."""
    return json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")


def strategy_from_tf_config() -> Any:
    """The strategy for this cluster: the default strategy when the task is alone.

    Multi-worker layouts (MultiWorkerMirroredStrategy, ParameterServerStrategy) arrive with
    distributed clusters; a cluster of one task needs none.
    """
    import tensorflow as tf

    cluster = cluster_spec().get("cluster", {})
    tasks = sum(len(addresses) for addresses in cluster.values())
    if tasks <= 1:
        return tf.distribute.get_strategy()
    raise NotImplementedError(f"distributed clusters are not supported yet: {cluster}")
