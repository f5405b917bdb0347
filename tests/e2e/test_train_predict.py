"""Train-then-predict: the train, table-model and SavedModel predict ops, LocalPredictor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from py4j.protocol import Py4JJavaError
from session_processes import driver_environ
from train_data import DATA_SCHEMA, PREDICT_PARAMS, separable_rows

from akdl import LocalPredictor
from bridge.errors import ParamError
from operators import (
    MemSourceBatchOp,
    MemSourceStreamOp,
    TF2TableModelTrainBatchOp,
    TFSavedModelPredictBatchOp,
    TFSavedModelPredictStreamOp,
    TFTableModelPredictBatchOp,
    TFTableModelPredictStreamOp,
    TFTableModelTrainBatchOp,
)

pytestmark = pytest.mark.e2e




@pytest.fixture(scope="module")
def trained_model_rows(local_env, repo_root):
    """A DNN trained by TFTableModelTrainBatchOp with 2 workers: its model rows."""
    params = {"featureCols": json.dumps(["f0", "f1"]), "labelCol": "label",
              "batch_size": 32, "num_epochs": 3, "learning_rate": 0.02}
    train = TFTableModelTrainBatchOp(
        main_script_file=os.path.join(repo_root, "akdl/models/tf/dnn/dnn_train.py"),
        user_params=json.dumps(params), num_workers=2, rendezvous_timeout_s=120.0,
    ).linkFrom(MemSourceBatchOp(separable_rows(2000, seed=1), DATA_SCHEMA))
    assert train.getSchemaStr() == "model_id BIGINT, model_info STRING"
    return [tuple(r) for r in train.collect()]


def model_op(model_rows):
    return MemSourceBatchOp(model_rows, "model_id long, model_info string")


def test_trained_model_predicts_the_same_in_batch_stream_and_locally(trained_model_rows):
    held_out = separable_rows(500, seed=2)
    assert dict(trained_model_rows)[0] == "model.zip"
    batch = TFTableModelPredictBatchOp(**PREDICT_PARAMS).linkFrom(
        model_op(trained_model_rows), MemSourceBatchOp(held_out, DATA_SCHEMA))
    assert batch.getColNames() == ["id", "label", "probability", "prediction"]
    batch_rows = sorted(tuple(r) for r in batch.collect())
    assert [r[0] for r in batch_rows] == list(range(500))
    accuracy = np.mean([r[1] == r[3] for r in batch_rows])
    assert accuracy >= 0.9

    stream = TFTableModelPredictStreamOp(**PREDICT_PARAMS).linkFrom(
        model_op(trained_model_rows), MemSourceStreamOp(held_out, DATA_SCHEMA))
    assert_same_predictions(sorted(tuple(r) for r in stream.collect()), batch_rows)

    local = LocalPredictor(trained_model_rows, DATA_SCHEMA, **PREDICT_PARAMS)
    assert_same_predictions(sorted(local.predict(held_out)), batch_rows)


def assert_same_predictions(rows: list[tuple], expected: list[tuple]) -> None:
    """Same ids, labels and predicted classes; probabilities equal up to float32 rounding.

    The micro-batches differ between batch, stream and local runs, and TF's CPU kernels may
    round the last bit of a float32 differently for another batch size.
    """
    assert [(r[0], r[1], r[3]) for r in rows] == [(r[0], r[1], r[3]) for r in expected]
    np.testing.assert_allclose([r[2] for r in rows], [r[2] for r in expected],
                               rtol=1e-5, atol=1e-7)


def test_model_rows_open_with_plain_tensorflow_in_a_fresh_process(trained_model_rows, tmp_path):
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(trained_model_rows))
    code = f"""
import json, tensorflow as tf
from akdl import model_rows_to_saved_model
path = model_rows_to_saved_model(json.load(open({str(rows_file)!r})), {str(tmp_path / "m")!r})
out = tf.saved_model.load(path).signatures["serving_default"](
    f0=tf.constant([0.9, -0.9]), f1=tf.constant([0.8, -0.7]))
print(json.dumps(out["prediction"].numpy().tolist()))
"""
    env = driver_environ()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120, cwd=os.path.dirname(os.path.dirname(
                                os.path.dirname(os.path.abspath(__file__)))))
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [1, 0]


# --- SavedModels saved by the test --------------------------------------------------------------

KERAS_MODEL_CODE = """
import sys
import numpy as np
import keras
import tensorflow as tf

keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                          keras.layers.Dense(2)])

class Serving(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="a"),
                                  tf.TensorSpec([None], tf.float32, name="b"),
                                  tf.TensorSpec([None], tf.float32, name="c")])
    def by_column(self, a, b, c):
        out = self.model(tf.stack([a, b, c], 1))
        return {"score": out[:, 0], "both": out}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def by_vector(self, x):
        return {"score": self.model(x)[:, 0]}

serving = Serving(model)
tf.saved_model.save(serving, sys.argv[1], signatures={
    "serving_default": serving.by_column, "by_vector": serving.by_vector})
np.save(sys.argv[1] + ".weights.npy", np.array(model.get_weights(), dtype=object),
        allow_pickle=True)
"""


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    """A SavedModel of a small Keras model, as a directory, a zip and a tar.gz."""
    root = tmp_path_factory.mktemp("keras")
    directory = str(root / "model")
    env = driver_environ()
    subprocess.run([sys.executable, "-c", KERAS_MODEL_CODE, directory], check=True, env=env,
                   timeout=180, capture_output=True)
    zip_path = shutil.make_archive(str(root / "model_zip"), "zip", directory)
    tar_path = str(root / "model.tar.gz")
    with tarfile.open(tar_path, "w:gz") as archive:
        archive.add(directory, arcname="export")
    weights = np.load(directory + ".weights.npy", allow_pickle=True)
    return {"dir": directory, "zip": zip_path, "tar.gz": tar_path, "weights": weights}


def expected_outputs(weights, x: np.ndarray) -> np.ndarray:
    w1, b1, w2, b2 = weights
    return np.tanh(x @ w1 + b1) @ w2 + b2


def feature_rows(n: int) -> list[tuple]:
    rng = np.random.default_rng(5)
    return [(i, *map(float, rng.uniform(-1, 1, 3))) for i in range(n)]


@pytest.mark.parametrize("kind", ["dir", "zip", "tar.gz"])
def test_saved_model_predictions_equal_the_model_called_in_tf(local_env, keras_model, kind):
    rows = feature_rows(300)
    op = TFSavedModelPredictBatchOp(
        model_path=keras_model[kind], selected_cols=["a", "b", "c"], reserved_cols=["id"],
        output_schema_str="score double, both ARRAY<DOUBLE>", batch_size=64,
    ).linkFrom(MemSourceBatchOp(rows, "id long, a double, b double, c double"))
    assert op.getColNames() == ["id", "score", "both"]
    out = sorted(op.collect(), key=lambda r: r[0])
    assert [r[0] for r in out] == list(range(300))
    x = np.array([r[1:] for r in rows], dtype=np.float32)
    expected = expected_outputs(keras_model["weights"], x)
    np.testing.assert_allclose([r[1] for r in out], expected[:, 0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose([r[2] for r in out], expected, rtol=1e-4, atol=1e-5)


def test_array_inputs_feed_a_vector_signature_in_a_stream(local_env, keras_model):
    rows = [(r[0], list(r[1:])) for r in feature_rows(100)]
    op = TFSavedModelPredictStreamOp(
        model_path=keras_model["dir"], signature_def_key="by_vector", selected_cols=["x"],
        output_schema_str="score double",
    ).linkFrom(MemSourceStreamOp(rows, "id long, x ARRAY<DOUBLE>"))
    assert op.getColNames() == ["id", "x", "score"]  # reservedCols default: every input column
    out = sorted(op.collect(), key=lambda r: r[0])
    assert [list(r[1]) for r in out] == [r[1] for r in rows]
    expected = expected_outputs(keras_model["weights"], np.array([r[1] for r in rows], np.float32))
    np.testing.assert_allclose([r[2] for r in out], expected[:, 0], rtol=1e-4, atol=1e-5)


def test_alink_string_tensors_feed_a_vector_input(local_env, keras_model):
    rows = [(0, "0.5 -0.5 0.25"), (1, "$3$0.1 0.2 0.3")]
    op = TFSavedModelPredictBatchOp(
        model_path=keras_model["dir"], signature_def_key="by_vector", selected_cols=["x"],
        reserved_cols=["id"], output_schema_str="score double",
    ).linkFrom(MemSourceBatchOp(rows, "id long, x string"))
    out = sorted(op.collect(), key=lambda r: r[0])
    x = np.array([[0.5, -0.5, 0.25], [0.1, 0.2, 0.3]], np.float32)
    expected = expected_outputs(keras_model["weights"], x)[:, 0]
    np.testing.assert_allclose([r[1] for r in out], expected, rtol=1e-4, atol=1e-5)


def test_input_signature_defs_map_columns_to_other_tensor_names(local_env, keras_model):
    rows = feature_rows(10)
    op = TFSavedModelPredictBatchOp(
        model_path=keras_model["dir"], selected_cols=["p", "q", "r"],
        input_signature_defs=["a", "b", "c"], output_signature_defs=["score"],
        reserved_cols=["id"], output_schema_str="s double",
    ).linkFrom(MemSourceBatchOp(rows, "id long, p double, q double, r double"))
    out = sorted(op.collect(), key=lambda r: r[0])
    expected = expected_outputs(keras_model["weights"], np.array([r[1:] for r in rows],
                                                                 np.float32))[:, 0]
    np.testing.assert_allclose([r[1] for r in out], expected, rtol=1e-4, atol=1e-5)


def test_comma_separated_names_and_an_empty_tag_mean_the_same_as_in_local_predictor(
    local_env, keras_model
):
    # Two defaults once drifted between the operators and LocalPredictor.
    schema = "id long, a double, b double, c double"
    params = dict(selected_cols="a, b, c", reserved_cols="id", output_schema_str="score double",
                  graph_def_tag="")
    op = TFSavedModelPredictBatchOp(model_path=keras_model["dir"], **params)
    assert op.getSelectedCols() == ["a", "b", "c"] and op.getReservedCols() == ["id"]
    rows = feature_rows(20)
    out = sorted(op.linkFrom(MemSourceBatchOp(rows, schema)).collect(), key=lambda r: r[0])
    local = LocalPredictor(keras_model["dir"], schema, **params).predict(rows)
    assert [r[0] for r in out] == [r[0] for r in local] == list(range(20))
    assert [r[1] for r in out] == pytest.approx([r[1] for r in local], rel=1e-6)


# --- clear errors -------------------------------------------------------------------------------


def predict_failure(keras_model, **params) -> str:
    params = {"model_path": keras_model["dir"], "selected_cols": ["a", "b", "c"],
              "reserved_cols": ["id"], "output_schema_str": "score double", **params}
    op = TFSavedModelPredictBatchOp(**params).linkFrom(
        MemSourceBatchOp(feature_rows(3), "id long, a double, b double, c double"))
    with pytest.raises(Py4JJavaError) as failure:
        op.collect()
    return str(failure.value)


def test_an_unknown_signature_key_lists_the_available_ones(local_env, keras_model):
    message = predict_failure(keras_model, signature_def_key="nope")
    assert "nope" in message and "serving_default" in message and "by_vector" in message
    assert "TFSavedModelPredictBatchOp" in message


def test_an_unknown_input_name_lists_the_signature_inputs(local_env, keras_model):
    message = predict_failure(keras_model, input_signature_defs=["a", "b", "zz"])
    assert "zz" in message and "'c'" in message


def test_a_shape_that_cannot_be_fed_names_the_column(local_env, keras_model):
    rows = [(0, [0.1, 0.2])]
    op = TFSavedModelPredictBatchOp(
        model_path=keras_model["dir"], signature_def_key="by_vector", selected_cols=["x"],
        output_schema_str="score double",
    ).linkFrom(MemSourceBatchOp(rows, "id long, x ARRAY<DOUBLE>"))
    with pytest.raises(Py4JJavaError) as failure:
        op.collect()
    assert "'x'" in str(failure.value) and "3" in str(failure.value)


def test_a_count_mismatch_fails_before_the_job(local_env, keras_model):
    with pytest.raises(ParamError, match="inputSignatureDefs"):
        TFSavedModelPredictBatchOp(
            model_path=keras_model["dir"], selected_cols=["a", "b", "c"],
            input_signature_defs=["a", "b"], output_schema_str="score double",
        ).linkFrom(MemSourceBatchOp(feature_rows(3), "id long, a double, b double, c double"))


def test_a_missing_model_path_fails_before_the_job(local_env, tmp_path):
    with pytest.raises(ParamError, match="does not exist"):
        TFSavedModelPredictBatchOp(
            model_path=str(tmp_path / "nothing"), output_schema_str="score double",
        ).linkFrom(MemSourceBatchOp([(1.0,)], "a double"))


def test_a_train_script_that_exports_nothing_fails_clearly(local_env, write_script):
    script = write_script("no_export.py", """
        def main(task_config):
            pass
    """)
    op = TF2TableModelTrainBatchOp(main_script_file=script).linkFrom(
        MemSourceBatchOp([(1.0,)], "a double"))
    with pytest.raises(Py4JJavaError) as failure:
        op.collect()
    assert "no SavedModel" in str(failure.value)
