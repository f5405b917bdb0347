"""Alink's ``dnn_stream``: train the DNN incrementally on the live stream, then write model rows.

Runs in the TF process of a stream task. ``user_params``: ``featureCols`` (JSON list),
``labelCol``, ``batch_size``, ``learning_rate``. A stream is read once, so ``num_epochs`` does
not apply. The chief writes the model as Alink model rows when the stream ends.

Several workers train one model with all-reduce (``MultiWorkerMirroredStrategy``). No worker
knows how many rows it will get, so every step first all-reduces how many rows the workers hold
in this step: a worker whose stream has ended joins with an empty batch, and training stops
when no worker has a row left. No worker ever waits in a collective that a peer skips.
"""

from __future__ import annotations

from typing import Any

from akdl.distribute import cluster_spec, strategy_from_tf_config
from akdl.models.tf.dnn.dnn_common import (
    DnnParams,
    EpochLogger,
    build_model,
    correct_share,
    epoch_metrics,
    logit_loss,
    parse_batch_fn,
    write_model_rows,
)

__all__ = ["PS_REFUSAL", "main", "train_on_stream"]

PS_REFUSAL = (
    "dnn_stream cannot train with parameter servers: under TF 2's ParameterServerStrategy only "
    "the chief runs Python, and a worker's dataset is produced in the chief's process (a "
    "per-worker from_generator dataset runs its generator there), so the workers' live Flink "
    "input cannot feed them. Set numPSs to 0: every worker then trains the same model with "
    "all-reduce on its own stream (see docs/streaming.md)"
)


def train_on_stream(strategy: Any, params: DnnParams, batches: Any,
                    log_steps: EpochLogger | None = None) -> tuple[Any, int]:
    """Train a fresh model over ``batches`` of ``(features, label)``; returns it and the steps.

    ``batches`` is this worker's own stream; the workers' streams may differ in length.
    ``log_steps(step, mean_loss, accuracy)`` is called every 100 steps.
    """
    import keras
    import tensorflow as tf

    with strategy.scope():
        model = build_model(params)
        optimizer = keras.optimizers.Adam(params.learning_rate)
    loss_fn = logit_loss()
    sum_op = tf.distribute.ReduceOp.SUM
    num_features = len(params.feature_cols)
    specs = (tf.TensorSpec([None, num_features], tf.float32), tf.TensorSpec([None], tf.float32))

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
    def rows_in_step(local_rows):
        def count(rows):
            # tf.identity places the value on this replica's device, which all_reduce needs.
            return tf.distribute.get_replica_context().all_reduce(sum_op, tf.identity(rows))

        # One replica per worker: its value already is the all-reduced total.
        return strategy.experimental_local_results(strategy.run(count, args=(local_rows,)))[0]

    @tf.function(input_signature=[*specs, tf.TensorSpec([], tf.float32)])
    def train_step(features, labels, global_rows):
        def step(features, labels):
            with tf.GradientTape() as tape:
                logits = model(features, training=True)
                per_example = loss_fn(labels[:, None], logits)
                loss = tf.reduce_sum(per_example) / global_rows
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss, correct_share(logits, labels, global_rows)

        loss, correct = strategy.run(step, args=(features, labels))
        return strategy.reduce(sum_op, loss, axis=None), strategy.reduce(sum_op, correct, axis=None)

    empty = (tf.zeros([0, num_features], tf.float32), tf.zeros([0], tf.float32))
    iterator = iter(batches)
    steps, loss_sum, correct_sum = 0, 0.0, 0.0
    while True:
        features, labels = next(iterator, empty)
        global_rows = rows_in_step(tf.cast(tf.shape(labels)[0], tf.float32))
        if float(global_rows) == 0:
            break
        loss, correct = train_step(features, labels, global_rows)
        loss_sum, correct_sum = loss_sum + float(loss), correct_sum + float(correct)
        steps += 1
        if steps % 100 == 0:
            print(f"step {steps}: mean loss {loss_sum / 100:.4f}", flush=True)
            if log_steps is not None:
                log_steps(steps, loss_sum / 100, correct_sum / 100)
            loss_sum, correct_sum = 0.0, 0.0
    return model, steps


def main(task_config: Any) -> None:
    """Train on ``task_config.dataset_fn()`` until the stream ends; the chief writes the model."""
    params = DnnParams.from_user_params(task_config.user_params)
    if cluster_spec().get("cluster", {}).get("ps"):
        raise ValueError(PS_REFUSAL)
    strategy = strategy_from_tf_config()
    to_xy = parse_batch_fn(task_config, params)
    batches = task_config.dataset_fn().batch(params.batch_size).map(to_xy)
    model, steps = train_on_stream(strategy, params, batches, epoch_metrics(task_config))
    print(f"the stream ended after {steps} steps", flush=True)
    if task_config.task_type == "chief":
        write_model_rows(task_config, model, params)
