"""Alink's ``dnn_batch``: train the DNN on the spooled shard and write model rows.

Runs in the TF process. ``user_params``: ``featureCols`` (JSON list), ``labelCol``,
``batch_size``, ``num_epochs``. The chief writes the model as Alink model rows
(``model_id long, model_info string``) through ``output_writer``.
"""

from __future__ import annotations

import math
import os
from typing import Any

from akdl.distribute import strategy_from_tf_config
from akdl.models.tf.dnn.dnn_common import (
    DnnParams,
    epoch_metrics,
    make_dataset,
    train,
    write_model_rows,
)
from bridge.steps import common_steps

__all__ = ["main", "train_on_shards"]


def main(task_config: Any) -> None:
    """Train on ``task_config.dataset_file`` and write the model rows (chief only)."""
    model, params = train_on_shards(task_config)
    if task_config.task_type == "chief":
        write_model_rows(task_config, model, params)


def train_on_shards(task_config: Any) -> tuple[Any, DnnParams]:
    """Train on every worker's spooled shard under the strategy TF_CONFIG implies.

    Returns the trained model (on every task that returns) and the parsed parameters.
    """
    import tensorflow as tf

    params = DnnParams.from_user_params(task_config.user_params)
    strategy = strategy_from_tf_config()
    if isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
        # The chief coordinates; each worker reads its own shard. The relative path resolves
        # in the work dir of the worker that runs the dataset function.
        shards = task_config.worker_dataset_lengths[1:]
        steps = sum(math.ceil(n / params.batch_size) for n in shards) if all(shards) else 0
        dataset_file = os.path.basename(task_config.dataset_file)
    else:
        steps = common_steps(task_config.worker_dataset_lengths, params.batch_size)
        dataset_file = task_config.dataset_file
    if steps == 0:
        print("a worker has no rows: no training step is possible; exporting the initial "
              "model", flush=True)

    def local_batches():
        records = tf.data.TFRecordDataset(dataset_file)
        return make_dataset(task_config, params, records).repeat()

    return train(strategy, params, local_batches, steps, epoch_metrics(task_config)), params
