"""Shared parts of the DNN classifier scripts (runs in the TF process).

A small Keras MLP over numeric feature columns, trained with a custom loop under the strategy
that TF_CONFIG implies (Keras 3 ``fit`` is broken under MultiWorkerMirroredStrategy,
keras-team/keras#20585), and exported as a SavedModel whose signatures take one float32 tensor
``[batch]`` per feature column:

* ``serving_default`` returns ``probability`` ``[batch]`` and ``prediction`` (int64 0/1);
* ``predict`` returns what Alink's Estimator-based DNN exported (a binary canned head's
  prediction keys), so ported programs that run ``setSignatureDefKey("predict")`` work:
  ``logits`` and ``logistic`` float32 ``[batch, 1]``, ``probabilities`` float32 ``[batch, 2]``,
  ``class_ids`` int64 ``[batch, 1]``, ``classes`` string ``[batch, 1]``, ``all_class_ids`` int32
  ``[batch, 2]`` and ``all_classes`` string ``[batch, 2]``.

Both signatures run the same model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from akdl.data import feature_spec, input_schema

__all__ = [
    "PREDICT_SIGNATURE",
    "DnnParams",
    "EpochLogger",
    "build_model",
    "correct_share",
    "epoch_metrics",
    "export_saved_model",
    "make_dataset",
    "parse_batch_fn",
    "train",
    "write_model_rows",
]


PREDICT_SIGNATURE = "predict"


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


def parse_batch_fn(task_config: Any, params: DnnParams) -> Any:
    """A function from a batch of serialized Examples to ``(features [b, n], label [b])``."""
    import tensorflow as tf

    spec = feature_spec(input_schema(task_config), [*params.feature_cols, params.label_col])

    def to_xy(batch):
        parsed = tf.io.parse_example(batch, spec)
        features = tf.stack([tf.cast(parsed[c], tf.float32) for c in params.feature_cols], 1)
        return features, tf.cast(parsed[params.label_col], tf.float32)

    return to_xy


def make_dataset(task_config: Any, params: DnnParams, records: Any) -> Any:
    """Shuffled batches of ``(features [batch, n] float32, label [batch] float32)``."""
    to_xy = parse_batch_fn(task_config, params)
    return records.shuffle(10_000).batch(params.batch_size).map(to_xy)


def build_model(params: DnnParams) -> Any:
    """The Keras classifier: dense ReLU layers and one linear unit, the logit."""
    import keras

    layers = [keras.Input(shape=(len(params.feature_cols),))]
    layers += [keras.layers.Dense(units, activation="relu") for units in params.hidden_units]
    layers.append(keras.layers.Dense(1))
    return keras.Sequential(layers)


def logit_loss() -> Any:
    """Per-example binary cross-entropy on the model's logits."""
    import keras

    return keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")


#: Called after each epoch with ``(epoch, mean_loss, accuracy)``.
EpochLogger = Callable[[int, float, float], None]


def train(strategy: Any, params: DnnParams, make_local_dataset: Any, steps_per_epoch: int,
          log_epoch: EpochLogger | None = None) -> Any:
    """Train a fresh model for ``num_epochs`` of ``steps_per_epoch`` steps; returns it.

    ``make_local_dataset()`` gives this worker's batches (its own shard: nothing is sharded
    again). Every worker takes the same number of steps, so all-reduce never waits for a worker
    that ran out of data. ``log_epoch(epoch, mean_loss, accuracy)`` is called after each epoch.
    """
    import keras
    import tensorflow as tf

    with strategy.scope():
        model = build_model(params)
        optimizer = keras.optimizers.Adam(params.learning_rate)
    loss_fn = logit_loss()
    global_batch = params.batch_size * strategy.num_replicas_in_sync

    def step(features, labels):
        with tf.GradientTape() as tape:
            logits = model(features, training=True)
            per_example = loss_fn(labels[:, None], logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, correct_share(logits, labels, global_batch)

    log = log_epoch or _no_log
    if isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
        return _train_with_ps(strategy, params, make_local_dataset, steps_per_epoch, model, step,
                              log)

    @tf.function
    def distributed_step(iterator):
        features, labels = next(iterator)
        loss, correct = strategy.run(step, args=(features, labels))
        total = tf.distribute.ReduceOp.SUM
        return strategy.reduce(total, loss, axis=None), strategy.reduce(total, correct, axis=None)

    batches = strategy.distribute_datasets_from_function(lambda _: make_local_dataset())
    for epoch in range(params.num_epochs):
        iterator = iter(batches)
        total, correct = 0.0, 0.0
        for _ in range(steps_per_epoch):
            loss, share = distributed_step(iterator)
            total, correct = total + float(loss), correct + float(share)
        steps = max(steps_per_epoch, 1)
        print(f"epoch {epoch + 1}/{params.num_epochs}: {steps_per_epoch} steps, "
              f"mean loss {total / steps:.4f}", flush=True)
        if steps_per_epoch:
            log(epoch, total / steps, correct / steps)
    return model


def _no_log(epoch: int, loss: float, accuracy: float) -> None:
    pass


def correct_share(logits: Any, labels: Any, global_batch: Any) -> Any:
    """The share of the global batch this replica's batch got right (sums to the accuracy)."""
    import tensorflow as tf

    predicted = tf.cast(logits[:, 0] > 0, labels.dtype)
    right = tf.reduce_sum(tf.cast(tf.equal(predicted, labels), tf.float32))
    return right / tf.cast(global_batch, tf.float32)


def epoch_metrics(task_config: Any) -> EpochLogger:
    """An epoch logger that logs ``loss`` and ``accuracy`` through ``task_config``."""

    def log(epoch: int, loss: float, accuracy: float) -> None:
        task_config.log_metrics({"loss": loss, "accuracy": accuracy}, step=epoch)

    return log


def _train_with_ps(strategy, params, make_local_dataset, steps_per_epoch, model, step, log):
    """The chief schedules ``steps_per_epoch`` steps per epoch on the workers.

    ``make_local_dataset`` runs on each worker, so each reads its own shard.
    """
    import tensorflow as tf

    coordinator = tf.distribute.experimental.coordinator.ClusterCoordinator(strategy)
    iterator = iter(coordinator.create_per_worker_dataset(make_local_dataset))

    @tf.function
    def worker_step(iterator):
        features, labels = next(iterator)
        return strategy.run(step, args=(features, labels))

    for epoch in range(params.num_epochs):
        losses = [coordinator.schedule(worker_step, args=(iterator,))
                  for _ in range(steps_per_epoch)]
        coordinator.join()
        results = [result.fetch() for result in losses]
        steps = max(steps_per_epoch, 1)
        mean = sum(float(loss) for loss, _ in results) / steps
        print(f"epoch {epoch + 1}/{params.num_epochs}: {steps_per_epoch} steps on the workers, "
              f"mean loss {mean:.4f}", flush=True)
        if steps_per_epoch:
            log(epoch, mean, sum(float(share) for _, share in results) / steps)
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

            def _logits(self, inputs):
                features = tf.stack([tf.cast(inputs[c], tf.float32) for c in feature_cols], 1)
                return self.model(features, training=False)

            @tf.function
            def serve(self, inputs):
                probability = tf.sigmoid(self._logits(inputs))[:, 0]
                prediction = tf.cast(probability > 0.5, tf.int64)
                return {"probability": probability, "prediction": prediction}

            @tf.function
            def predict(self, inputs):
                logits = self._logits(inputs)
                logistic = tf.sigmoid(logits)
                class_ids = tf.cast(logits > 0, tf.int64)
                batch = tf.shape(logits)[0]
                all_class_ids = tf.tile(tf.constant([[0, 1]], tf.int32), [batch, 1])
                return {
                    "logits": logits,
                    "logistic": logistic,
                    "probabilities": tf.concat([1 - logistic, logistic], axis=1),
                    "class_ids": class_ids,
                    "classes": tf.strings.as_string(class_ids),
                    "all_class_ids": all_class_ids,
                    "all_classes": tf.strings.as_string(all_class_ids),
                }

        return ServingModule()


def export_saved_model(model: Any, feature_cols: list[str], directory: str) -> str:
    """Export ``model`` with its ``serving_default`` and ``predict`` signatures."""
    import tensorflow as tf

    module = _Serving.module(model, feature_cols)
    inputs = {c: tf.TensorSpec([None], tf.float32, name=c) for c in feature_cols}
    signatures = {
        "serving_default": module.serve.get_concrete_function(inputs),
        PREDICT_SIGNATURE: module.predict.get_concrete_function(inputs),
    }
    tf.saved_model.save(module, directory, signatures=signatures)
    return directory


def write_model_rows(task_config: Any, model: Any, params: DnnParams) -> None:
    """Export ``model`` into the work dir and write it through ``output_writer`` as model rows."""
    import os
    import tempfile

    from akdl.model_rows import saved_model_to_model_rows

    export_dir = tempfile.mkdtemp(prefix="saved_model-", dir=task_config.work_dir)
    export_saved_model(model, params.feature_cols, export_dir)
    for model_id, info in saved_model_to_model_rows(export_dir, "dnn_model"):
        task_config.output_writer.write_row({"model_id": model_id, "model_info": info})
    print(f"wrote the model from {os.path.basename(export_dir)}", flush=True)
