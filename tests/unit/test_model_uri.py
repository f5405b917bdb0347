"""MLflow model URIs: which paths are URIs, and the error when MLflow is not installed."""

import sys

import pytest

import akdl.mlflow
from akdl import LocalPredictor
from akdl.predict.model_source import resolve_model_path
from akdl.predict.model_uri import is_mlflow_uri
from bridge.errors import PredictError
from operators.predict_op import model_path_source

INSTALL = "pip install 'akdl[mlflow]'"


@pytest.fixture
def no_mlflow(monkeypatch):
    """Makes ``import mlflow`` fail, as it does where the extra is not installed."""
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)


@pytest.mark.parametrize("path, expected", [
    ("models:/m/1", True),
    ("models:/m@champion", True),
    ("runs:/0123abcd/model", True),
    ("/tmp/models/m/1", False),
    ("models/m/1", False),
    ("export.tar.gz", False),
])
def test_which_paths_are_mlflow_uris(path, expected):
    assert is_mlflow_uri(path) is expected


@pytest.mark.parametrize("uri", ["models:/m/1", "models:/m@champion", "runs:/0123abcd/model"])
def test_uri_without_mlflow_says_how_to_install_it(no_mlflow, uri, tmp_path):
    with pytest.raises(PredictError) as error:
        resolve_model_path(uri, tmp_path)
    assert f"model path {uri!r} needs MLflow" in str(error.value)
    assert INSTALL in str(error.value)


def test_local_predictor_and_predict_ops_without_mlflow(no_mlflow):
    with pytest.raises(PredictError, match=r"'models:/m/1' needs MLflow.*akdl\[mlflow\]"):
        LocalPredictor("models:/m/1", "x double", output_schema_str="y double")
    with pytest.raises(PredictError, match=r"'models:/m@prod' needs MLflow.*akdl\[mlflow\]"):
        model_path_source("models:/m@prod")


def test_log_model_without_mlflow(no_mlflow):
    with pytest.raises(ImportError) as error:
        akdl.mlflow.log_model([(0, "model.zip")])
    assert "akdl.mlflow.log_model needs MLflow" in str(error.value)
    assert INSTALL in str(error.value)


def test_local_model_paths_are_checked_on_the_driver(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(PredictError, match="does not exist"):
        model_path_source(str(missing))
    text = tmp_path / "model.txt"
    text.write_text("x")
    with pytest.raises(PredictError, match="is a file but not a .zip/.tar.gz/.tgz/.tar archive"):
        model_path_source(str(text))
    assert model_path_source(str(tmp_path)) == (str(tmp_path), ())
