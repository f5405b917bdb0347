"""Alink's ``dnn_train``: train the DNN on the spooled shards and export a SavedModel.

Runs in the TF process of a train task (``TFTableModelTrainBatchOp``). ``user_params`` are
those of ``dnn_batch``. The chief exports the model into ``task_config.saved_model_dir``; the
operator turns that into model rows. The serving signature takes one float32 tensor per feature
column and returns ``probability`` and ``prediction``.
"""

from __future__ import annotations

from typing import Any

from akdl.models.tf.dnn.dnn_batch import train_on_shards
from akdl.models.tf.dnn.dnn_common import export_saved_model

__all__ = ["main"]


def main(task_config: Any) -> None:
    """Train; the chief exports the SavedModel into ``task_config.saved_model_dir``."""
    model, params = train_on_shards(task_config)
    if task_config.task_type == "chief":
        export_saved_model(model, params.feature_cols, task_config.saved_model_dir)
