"""Unmodified argparse scripts (scriptArgs): train then predict, rows, exit codes, bad args."""

from __future__ import annotations

import numpy as np
import pytest
from py4j.protocol import Py4JJavaError
from train_data import separable_rows

from bridge.errors import ParamError
from operators import (
    MemSourceBatchOp,
    MemSourceStreamOp,
    TensorFlowBatchOp,
    TensorFlowStreamOp,
    TFTableModelPredictBatchOp,
    TFTableModelTrainBatchOp,
)

pytestmark = pytest.mark.e2e

DATA_SCHEMA = "id long, f0 double, f1 double, label int"

# PAI's custom component runs `python train.py --arg value`; this is such a script, with TF.
TRAIN_SCRIPT = """
    \"\"\"Train a small classifier on a TFRecord file and export it as a SavedModel.\"\"\"
    import argparse
    import json
    import os

    import tensorflow as tf

    FEATURES = {
        "f0": tf.io.FixedLenFeature([], tf.float32),
        "f1": tf.io.FixedLenFeature([], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }


    def parse_args():
        parser = argparse.ArgumentParser(description="Tiny DNN train.")
        parser.add_argument("--data", required=True, help="TFRecord file of tf.train.Example")
        parser.add_argument("--epochs", type=int, default=1)
        parser.add_argument("--export", required=True, help="where to save the SavedModel")
        parser.add_argument("--lr", type=float, default=0.01)
        parser.add_argument("--batch-size", type=int, default=32)
        return parser.parse_args()


    def load(path, batch_size):
        def split(examples):
            return tf.stack([examples["f0"], examples["f1"]], axis=1), examples["label"]

        return (tf.data.TFRecordDataset(path).shuffle(4096, seed=0).batch(batch_size)
                .map(lambda records: split(tf.io.parse_example(records, FEATURES))))


    class Serving(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="f0"),
                                      tf.TensorSpec([None], tf.float32, name="f1")])
        def serve(self, f0, f1):
            probability = self.model(tf.stack([f0, f1], axis=1))[:, 0]
            return {"probability": probability,
                    "prediction": tf.cast(probability > 0.5, tf.int64)}


    def main():
        args = parse_args()
        task = json.loads(os.environ["TF_CONFIG"])["task"]
        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential([
            tf.keras.Input((2,)),
            tf.keras.layers.Dense(8, activation="relu"),
            tf.keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(optimizer=tf.keras.optimizers.Adam(args.lr), loss="binary_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(load(args.data, args.batch_size), epochs=args.epochs, verbose=2)
        print(f"{task['type']}:{task['index']} accuracy {history.history['accuracy'][-1]:.3f}")
        serving = Serving(model)
        tf.saved_model.save(serving, args.export, signatures={"serving_default": serving.serve})


    if __name__ == "__main__":
        main()
"""

# Writes rows through akdl's current task config, then leaves with sys.exit(0).
ROWS_SCRIPT = """
    import argparse
    import sys

    import tensorflow as tf

    import akdl

    parser = argparse.ArgumentParser()
    parser.add_argument("--data")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--scale", type=float)
    parser.add_argument("--task")
    args = parser.parse_args()

    SPEC = {"id": tf.io.FixedLenFeature([], tf.int64), "x": tf.io.FixedLenFeature([], tf.float32)}
    writer = akdl.current_task_config().output_writer
    for record in tf.data.TFRecordDataset(args.data):
        row = tf.io.parse_single_example(record, SPEC)
        writer.write_row({"id": int(row["id"]), "y": float(row["x"]) * args.scale,
                          "task": args.task, "rows": args.rows})
    sys.exit(0)
    print("never reached")
"""

EXIT_SCRIPT = """
    import sys

    print("loading the data")
    print("found 0 usable rows, giving up", file=sys.stderr)
    sys.exit(3)
"""

STREAM_SCRIPT = """
    import argparse

    import tensorflow as tf

    import akdl

    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=int)
    args = parser.parse_args()
    config = akdl.current_task_config()
    SPEC = {"id": tf.io.FixedLenFeature([], tf.int64)}
    for record in config.dataset_fn():
        row = tf.io.parse_single_example(record, SPEC)
        config.output_writer.write_row({"id": int(row["id"]) + args.offset})
"""



def test_an_argparse_train_script_runs_unmodified_and_its_model_predicts(local_env, write_script):
    script = write_script("train.py", TRAIN_SCRIPT)
    train = TFTableModelTrainBatchOp(
        main_script_file=script, num_workers=1,
        script_args=["--data", "{dataset_file}", "--epochs", "2", "--export",
                     "{saved_model_dir}", "--lr", "0.1"],
    ).linkFrom(MemSourceBatchOp(separable_rows(1000, seed=1), DATA_SCHEMA))
    model_rows = [tuple(r) for r in train.collect()]
    assert dict(model_rows)[0] == "model.zip"

    held_out = separable_rows(300, seed=2)
    predict = TFTableModelPredictBatchOp(
        selected_cols=["f0", "f1"], reserved_cols=["id", "label"],
        output_schema_str="probability double, prediction long",
    ).linkFrom(MemSourceBatchOp(model_rows, "model_id long, model_info string"),
               MemSourceBatchOp(held_out, DATA_SCHEMA))
    out = sorted(tuple(r) for r in predict.collect())
    assert [r[0] for r in out] == list(range(300))
    assert all(0.0 <= r[2] <= 1.0 and r[3] == int(r[2] > 0.5) for r in out)
    assert np.mean([r[1] == r[3] for r in out]) >= 0.9


def test_a_batch_script_writes_rows_through_the_current_task_config(local_env, write_script):
    script = write_script("rows.py", ROWS_SCRIPT)
    rows = [(i, i / 4) for i in range(40)]
    op = TensorFlowBatchOp(
        user_files=[script], main_script_file="rows.py", num_workers=2,
        output_schema_str="id long, y double, task string, rows long",
        script_args="--data {dataset_file} --rows {dataset_length} --scale 10 "
                    "--task {task_type}:{task_index}",
    ).linkFrom(MemSourceBatchOp(rows, "id long, x double"))
    out = sorted(tuple(r) for r in op.collect())
    assert [(r[0], r[1]) for r in out] == [(i, x * 10) for i, x in rows]
    per_task = {task: sum(1 for r in out if r[2] == task) for task in {r[2] for r in out}}
    assert set(per_task) <= {"chief:0", "worker:0"}
    assert all(r[3] == per_task[r[2]] for r in out)  # {dataset_length} is the task's shard


def test_a_nonzero_exit_fails_the_job_with_the_code_and_the_last_lines(local_env, write_script):
    script = write_script("exit3.py", EXIT_SCRIPT)
    op = TensorFlowBatchOp(main_script_file=script, num_workers=1, output_schema_str="a long",
                           script_args=[])
    with pytest.raises(Py4JJavaError) as info:
        op.linkFrom(MemSourceBatchOp([(1,)], "a long")).collect()
    message = str(info.value)
    assert "exit3.py (task chief:0 (subtask 0)): script exited with code 3" in message
    assert "loading the data" in message
    assert "found 0 usable rows, giving up" in message
    assert "TensorFlowBatchOp" in message


def test_a_stream_script_reads_its_input_through_the_current_task_config(local_env,
                                                                        write_script):
    script = write_script("stream.py", STREAM_SCRIPT)
    op = TensorFlowStreamOp(main_script_file=script, num_workers=1, output_schema_str="id long",
                            script_args=["--offset", "100"])
    out = op.linkFrom(MemSourceStreamOp([(i,) for i in range(20)], "id long")).collect()
    assert sorted(r[0] for r in out) == list(range(100, 120))


def test_an_unknown_placeholder_fails_when_the_operator_is_linked(local_env, write_script):
    script = write_script("train.py", TRAIN_SCRIPT)
    train = TFTableModelTrainBatchOp(main_script_file=script,
                                     script_args=["--data", "{dataset_path}"])
    with pytest.raises(ParamError) as info:
        train.linkFrom(MemSourceBatchOp(separable_rows(4, seed=1), DATA_SCHEMA))
    message = str(info.value)
    assert message.startswith("TFTableModelTrainBatchOp: parameter 'scriptArgs' uses the "
                              "unknown placeholder {dataset_path} (in '{dataset_path}')")
    assert ("{dataset_file}, {dataset_length}, {work_dir}, {saved_model_dir}, {task_type}, "
            "{task_index}, {num_workers}") in message


def test_a_stream_operator_has_no_dataset_file(local_env, write_script):
    script = write_script("stream.py", STREAM_SCRIPT)
    op = TensorFlowStreamOp(main_script_file=script, output_schema_str="id long",
                            script_args=["--data", "{dataset_file}"])
    with pytest.raises(ParamError, match=r"\{dataset_file\}.*read live"):
        op.linkFrom(MemSourceStreamOp([(1,)], "id long"))

