"""MLflow as the model registry: log a trained model, then predict through models:/ and runs:/.

Every test talks to a real MLflow tracking store and registry: a sqlite database and an artifact
directory in a temp dir, set for this module and restored afterwards.
"""

from __future__ import annotations

import json
import os

import mlflow
import numpy as np
import pytest
from train_data import DATA_SCHEMA, PREDICT_PARAMS, separable_rows

import akdl
import akdl.mlflow
from akdl import LocalPredictor
from bridge.errors import ParamError, PredictError
from operators import (
    MemSourceBatchOp,
    MemSourceStreamOp,
    TFSavedModelPredictBatchOp,
    TFSavedModelPredictStreamOp,
    TFTableModelPredictBatchOp,
    TFTableModelTrainBatchOp,
)

pytestmark = pytest.mark.e2e




HELD_OUT = separable_rows(200, seed=2)


def train_op(repo_root: str) -> TFTableModelTrainBatchOp:
    params = {"featureCols": json.dumps(["f0", "f1"]), "labelCol": "label",
              "batch_size": 32, "num_epochs": 2, "learning_rate": 0.05}
    return TFTableModelTrainBatchOp(
        main_script_file=os.path.join(repo_root, "akdl/models/tf/dnn/dnn_train.py"),
        user_params=json.dumps(params), num_workers=1,
    ).linkFrom(MemSourceBatchOp(separable_rows(400, seed=1), DATA_SCHEMA))


class KeepsRows:
    """A train op whose ``collect()`` also keeps the rows, to predict from them too.

    ``collect()`` runs the training job each time; this lets the test train once.
    """

    def __init__(self, op):
        self.op = op
        self.rows = None

    def collect(self):
        self.rows = [tuple(r) for r in self.op.collect()]
        return self.rows


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    """A fresh sqlite tracking store and registry, with artifacts in the temp dir."""
    root = tmp_path_factory.mktemp("mlflow")
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.MlflowClient().create_experiment(
        "akdl-test", artifact_location=(root / "artifacts").as_uri())
    patch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
    yield uri
    mlflow.set_tracking_uri(None)
    patch.undo()


@pytest.fixture(scope="module")
def registered(tracking, local_env, repo_root):
    """Version 1 of "m", logged from a train op; its ModelInfo, model rows and predictions."""
    train = KeepsRows(train_op(repo_root))
    info = akdl.mlflow.log_model(train, registered_model_name="m")
    assert info.registered_model_version == 1
    assert mlflow.active_run() is None  # log_model ended the run it started
    assert mlflow.get_run(info.run_id).info.status == "FINISHED"
    return info, train.rows, predict_local(train.rows)


def predict_local(model) -> list[tuple]:
    return sorted(LocalPredictor(model, DATA_SCHEMA, **PREDICT_PARAMS).predict(HELD_OUT))


def assert_same_predictions(rows: list[tuple], expected: list[tuple]) -> None:
    """Same ids, labels and classes; probabilities equal up to float32 rounding (batch sizes
    differ between the paths, and TF's CPU kernels may round the last bit differently)."""
    assert [(r[0], r[1], r[3]) for r in rows] == [(r[0], r[1], r[3]) for r in expected]
    np.testing.assert_allclose([r[2] for r in rows], [r[2] for r in expected],
                               rtol=1e-5, atol=1e-7)


def test_registry_model_predicts_as_the_model_rows_in_batch_stream_and_locally(registered):
    _, model_rows, local_from_rows = registered
    expected = sorted(tuple(r) for r in TFTableModelPredictBatchOp(**PREDICT_PARAMS).linkFrom(
        MemSourceBatchOp(model_rows, "model_id long, model_info string"),
        MemSourceBatchOp(HELD_OUT, DATA_SCHEMA)).collect())
    assert [r[0] for r in expected] == list(range(len(HELD_OUT)))
    assert np.mean([r[1] == r[3] for r in expected]) >= 0.8

    batch = TFSavedModelPredictBatchOp(model_path="models:/m/1", **PREDICT_PARAMS).linkFrom(
        MemSourceBatchOp(HELD_OUT, DATA_SCHEMA))
    batch_rows = sorted(tuple(r) for r in batch.collect())
    assert_same_predictions(batch_rows, expected)

    stream = TFSavedModelPredictStreamOp(model_path="models:/m/1", **PREDICT_PARAMS).linkFrom(
        MemSourceStreamOp(HELD_OUT, DATA_SCHEMA))
    assert_same_predictions(sorted(tuple(r) for r in stream.collect()), expected)

    assert_same_predictions(predict_local("models:/m/1"), expected)
    assert_same_predictions(local_from_rows, expected)


def test_runs_uri_and_mlflow_tensorflow_load_model(registered):
    info, _, expected = registered
    assert_same_predictions(predict_local(f"runs:/{info.run_id}/model"), expected)

    loaded = mlflow.tensorflow.load_model("models:/m/1")
    assert {"serving_default", "predict"} <= set(loaded.signatures)
    out = loaded.signatures["serving_default"](
        f0=np.array([r[1] for r in HELD_OUT], np.float32),
        f1=np.array([r[2] for r in HELD_OUT], np.float32))
    np.testing.assert_allclose(out["probability"].numpy(), [r[2] for r in expected],
                               rtol=1e-5, atol=1e-7)
    assert out["prediction"].numpy().tolist() == [r[3] for r in expected]
    signature = mlflow.models.get_model_info("models:/m/1").signature
    assert signature.inputs.input_names() == ["f0", "f1"]


def test_alias_names_a_version_logged_from_model_rows(registered):
    _, model_rows, expected = registered
    info = akdl.mlflow.log_model(model_rows, registered_model_name="m")
    assert info.registered_model_version == 2
    mlflow.MlflowClient().set_registered_model_alias("m", "champion", "2")
    assert_same_predictions(predict_local("models:/m@champion"), expected)


def test_log_model_from_a_saved_model_dir_logs_into_the_active_run(registered, tmp_path):
    _, model_rows, expected = registered
    saved_model = akdl.model_rows_to_saved_model(model_rows, str(tmp_path / "export"))
    with mlflow.start_run() as run:
        info = akdl.mlflow.log_model(saved_model, artifact_path="dnn")
        assert mlflow.active_run().info.run_id == run.info.run_id
    assert info.run_id == run.info.run_id
    assert info.registered_model_version is None
    assert_same_predictions(predict_local(f"runs:/{run.info.run_id}/dnn"), expected)


def test_unknown_model_name_fails_in_link_from_and_lists_the_registered_models(registered):
    op = TFSavedModelPredictBatchOp(model_path="models:/nope/1", **PREDICT_PARAMS)
    with pytest.raises(ParamError) as error:
        op.linkFrom(MemSourceBatchOp(HELD_OUT, DATA_SCHEMA))
    message = str(error.value)
    assert "modelPath" in message and "'models:/nope/1'" in message
    assert "name=nope not found" in message and "registered models: ['m']" in message


def test_unknown_version_and_alias_list_the_versions(registered):
    with pytest.raises(ParamError, match=r"models:/m/99.*version=99\) not found.*versions \[1"):
        TFSavedModelPredictStreamOp(model_path="models:/m/99", **PREDICT_PARAMS).linkFrom(
            MemSourceStreamOp(HELD_OUT, DATA_SCHEMA))
    with pytest.raises(PredictError, match=r"models:/m@nobody.*alias nobody not found.*versions"):
        LocalPredictor("models:/m@nobody", DATA_SCHEMA, **PREDICT_PARAMS)
