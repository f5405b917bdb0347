"""Shared parts of the DNN classifier scripts (runs in the TF process).

A small Keras MLP over numeric feature columns, trained with a custom loop under the strategy
that TF_CONFIG implies (Keras 3 ``fit`` is broken under MultiWorkerMirroredStrategy, see
docs/distributed.md), and exported as a SavedModel whose serving signature takes one float32
tensor per feature column and returns ``probability`` and ``prediction``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from akdl.data import feature_spec, input_schema

__all__ = ["DnnParams", "build_model", "export_saved_model", "make_dataset", "train"]


@dataclass(frozen=True)
class DnnParams:
    """What the scripts read from ``user_params`` (Alink's names)."""

    feature_cols: list[str]
    label_col: str
    batch_size: int = 32
    num_epochs: int = 1
    learning_rate: float = 0.01
    hidden_units: tuple[int, ...] = (32, 16)

    @classmethod
    def from_user_params(cls, params: dict[str, Any]) -> DnnParams:
        """Parse ``featureCols`` (JSON list or list), ``labelCol``, ``batch_size``, ..."""
        features = params["featureCols"]
        if isinstance(features, str):
            features = json.loads(features)
        return cls(
            feature_cols=list(features),
            label_col=params["labelCol"],
            batch_size=int(params.get("batch_size", 32)),
            num_epochs=int(params.get("num_epochs", 1)),
            learning_rate=float(params.get("learning_rate", 0.01)),
        )


def make_dataset(task_config: Any, params: DnnParams, records: Any) -> Any:
    """Batches of ``(features [batch, n] float32, label [batch] float32)``."""
    import tensorflow as tf

    spec = feature_spec(input_schema(task_config), [*params.feature_cols, params.label_col])

    def to_xy(batch):
        parsed = tf.io.parse_example(batch, spec)
        features = tf.stack([tf.cast(parsed[c], tf.float32) for c in params.feature_cols], 1)
        return features, tf.cast(parsed[params.label_col], tf.float32)

    return records.batch(params.batch_size).map(to_xy)


def build_model(params: DnnParams) -> Any:
    """The Keras classifier: dense ReLU layers and one sigmoid unit."""
    import keras

    layers = [keras.Input(shape=(len(params.feature_cols),))]
    layers += [keras.layers.Dense(units, activation="relu") for units in params.hidden_units]
    layers.append(keras.layers.Dense(1, activation="sigmoid"))
    return keras.Sequential(layers)


def train(strategy: Any, params: DnnParams, dataset: Any) -> Any:
    """Train a fresh model on ``dataset`` for ``num_epochs``; returns the model."""
    import keras
    import tensorflow as tf

    with strategy.scope():
        model = build_model(params)
        optimizer = keras.optimizers.Adam(params.learning_rate)
    loss_fn = keras.losses.BinaryCrossentropy(reduction="none")

    def step(features, labels):
        with tf.GradientTape() as tape:
            probabilities = model(features, training=True)[:, 0]
            per_example = loss_fn(labels[:, None], probabilities[:, None])
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=params.batch_size)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def distributed_step(features, labels):
        losses = strategy.run(step, args=(features, labels))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    distributed = strategy.experimental_distribute_dataset(dataset)
    for epoch in range(params.num_epochs):
        total, steps = 0.0, 0
        for features, labels in distributed:
            total += float(distributed_step(features, labels))
            steps += 1
        print(f"epoch {epoch + 1}/{params.num_epochs}: {steps} steps, "
              f"mean loss {total / max(steps, 1):.4f}", flush=True)
    return model


class _Serving:
    """Builds the serving module lazily, so importing this file does not import TF."""

    @staticmethod
    def module(model: Any, feature_cols: list[str]) -> Any:
        import tensorflow as tf

        class ServingModule(tf.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            @tf.function
            def serve(self, inputs):
                features = tf.stack([tf.cast(inputs[c], tf.float32) for c in feature_cols], 1)
                probability = self.model(features, training=False)[:, 0]
                prediction = tf.cast(probability > 0.5, tf.int64)
                return {"probability": probability, "prediction": prediction}

        return ServingModule()


def export_saved_model(model: Any, feature_cols: list[str], directory: str) -> str:
    """Export ``model`` with a ``serving_default`` signature of one tensor per feature."""
    import tensorflow as tf

    module = _Serving.module(model, feature_cols)
    signature = module.serve.get_concrete_function(
        {c: tf.TensorSpec([None], tf.float32, name=c) for c in feature_cols}
    )
    tf.saved_model.save(module, directory, signatures={"serving_default": signature})
    return directory
