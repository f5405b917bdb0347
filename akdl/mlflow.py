"""Logging akdl models to MLflow, the model registry and tracking store users already run.

``akdl.mlflow.log_model(train_op, registered_model_name="churn")`` logs a trained model with
MLflow's TensorFlow flavor and registers a new version of it; the predict operators and
`akdl.LocalPredictor` then take ``modelPath="models:/churn/1"`` (or ``models:/churn@champion``,
``runs:/<run_id>/model``), resolved by `akdl.predict.model_uri`.

Where it goes is MLflow's own choice: ``mlflow.set_tracking_uri`` / ``mlflow.set_experiment``
in this process, else ``MLFLOW_TRACKING_URI`` / ``MLFLOW_EXPERIMENT_NAME`` and their kin, else
MLflow's default. MLflow and TensorFlow are imported when `log_model` is called, never by
``import akdl``. MLflow is an optional extra: ``pip install 'akdl[mlflow]'``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

from akdl.predict.model_source import model_dir_from_rows, resolve_model_path
from akdl.predict.model_uri import INSTALL_HINT

__all__ = ["log_model"]


def log_model(
    model: Any, registered_model_name: str | None = None, artifact_path: str = "model"
) -> Any:
    """Logs a SavedModel to MLflow with the TensorFlow flavor; optionally registers a version.

    MLflow's TensorFlow flavor logs Keras models and ``tf.Module`` objects, not SavedModel
    directories. So the SavedModel is loaded with ``tf.saved_model.load`` and saved again, inside
    a ``tf.Module``, with all of its signatures: the logged model holds the same functions and
    variables, under the same signature keys and tensor names (``serving_default`` included),
    and predicts the same. ``mlflow.tensorflow.load_model(uri)`` returns it as
    ``tf.saved_model.load`` would (call ``.signatures["serving_default"]``). When the
    ``serving_default`` signature takes tensors of a variable batch size, its inputs and outputs
    become the MLflow model's signature.

    If an MLflow run is active, the model is logged into it. Otherwise a run is started for
    this call, in the current experiment, and ended when the model is logged.

    Args:
        model: the model to log:

            - Alink model rows, ``(model_id, model_info)`` pairs (tuples, lists, PyFlink
              ``Row`` or a pandas DataFrame);
            - an object whose ``collect()`` returns them, such as a train operator
              (``TFTableModelTrainBatchOp``), which runs its job if it has not run yet;
            - a SavedModel path: a directory, a ``.zip`` / ``.tar.gz`` of one, or an MLflow URI.
        registered_model_name: when given, the model is registered under this name as a new
            version (the registered model is created if missing).
        artifact_path: the name of the logged model (MLflow's ``name``); it is also the path
            in ``runs:/<run_id>/<artifact_path>``.

    Returns:
        MLflow's ``ModelInfo``: ``model_uri``, ``run_id``, and ``registered_model_version``
        when registered.

    Raises:
        ImportError: MLflow is not installed; the message gives the install command.
        PredictError: the model rows or the path hold no SavedModel.
    """
    mlflow = _import_mlflow()
    with tempfile.TemporaryDirectory(prefix="akdl-mlflow-log-") as scratch:
        saved_model_dir = _saved_model_dir(model, scratch)
        import tensorflow as tf

        loaded = tf.saved_model.load(saved_model_dir)
        module = tf.Module()
        module.model = loaded  # tracked, so its variables and functions are saved again
        signatures = dict(loaded.signatures)
        run = contextlib.nullcontext() if mlflow.active_run() else mlflow.start_run()
        with run:
            return mlflow.tensorflow.log_model(
                module,
                name=artifact_path,
                registered_model_name=registered_model_name,
                signature=_mlflow_signature(signatures.get("serving_default")),
                saved_model_kwargs={"signatures": signatures},
                # The default infers requirements by loading the model in a subprocess.
                pip_requirements=mlflow.tensorflow.get_default_pip_requirements(),
            )


def _import_mlflow() -> Any:
    try:
        import mlflow
        import mlflow.tensorflow
    except ImportError:
        raise ImportError(
            f"akdl.mlflow.log_model needs MLflow, which is not installed; install it with "
            f"{INSTALL_HINT}"
        ) from None
    return mlflow


def _saved_model_dir(model: Any, scratch: str) -> str:
    """The SavedModel directory of a path, model rows, or an object that collects them."""
    if isinstance(model, str | os.PathLike):
        return resolve_model_path(model, os.path.join(scratch, "source"))
    rows: Iterable[Sequence[Any]]
    if hasattr(model, "itertuples"):  # a pandas DataFrame of model rows
        rows = model.itertuples(index=False, name=None)
    elif callable(getattr(model, "collect", None)):  # a train operator
        rows = model.collect()
    else:
        rows = model
    return model_dir_from_rows(rows, os.path.join(scratch, "source"))


def _mlflow_signature(function: Any) -> Any:
    """MLflow's signature for a SavedModel signature function; None where MLflow cannot say it.

    MLflow's TensorFlow flavor accepts only tensor inputs whose first dimension is variable.
    """
    if function is None:
        return None
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    def specs(structure: dict[str, Any]) -> list[Any]:
        return [
            TensorSpec(np.dtype(spec.dtype.as_numpy_dtype),
                       tuple(-1 if d is None else d for d in spec.shape.as_list()), name)
            for name, spec in sorted(structure.items())
        ]

    inputs = function.structured_input_signature[1]
    outputs = function.structured_outputs
    if not inputs or not isinstance(outputs, dict):
        return None
    if any(spec.shape.rank == 0 or spec.shape[0] is not None for spec in inputs.values()):
        return None
    return ModelSignature(inputs=Schema(specs(inputs)), outputs=Schema(specs(outputs)))
