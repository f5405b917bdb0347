"""SavedModels named by MLflow URIs (``models:/...`` and ``runs:/...``).

The URIs are ``models:/<name>/<version>``, ``models:/<name>@<alias>`` and
``runs:/<run_id>/<path>``.

`download_model` fetches the model through MLflow into a scratch directory that the caller owns
and returns the directory holding ``saved_model.pb``. The tracking and registry servers are
MLflow's own choice: ``mlflow.set_tracking_uri`` / ``mlflow.set_registry_uri`` in this process,
else the ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI`` environment variables, else MLflow's
default. MLflow is imported only when such a URI is used; it is an optional extra
(``pip install 'akdl[mlflow]'``).
"""

from __future__ import annotations

import os
from typing import Any

from bridge.errors import AkdlError, PredictError

__all__ = ["MLFLOW_SCHEMES", "download_model", "import_mlflow", "is_mlflow_uri"]

MLFLOW_SCHEMES = ("models:/", "runs:/")
INSTALL_HINT = "pip install 'akdl[mlflow]'"
_LISTED = 20


def is_mlflow_uri(path: Any) -> bool:
    """Whether ``path`` is a ``models:/`` or ``runs:/`` URI (resolved through MLflow)."""
    return isinstance(path, str) and path.startswith(MLFLOW_SCHEMES)


def import_mlflow(purpose: str) -> Any:
    """Imports MLflow, or raises a `PredictError` that says how to install it.

    Args:
        purpose: what needs MLflow, for the message (e.g. the URI being resolved).
    """
    try:
        import mlflow
    except ImportError:
        raise PredictError(
            f"{purpose} needs MLflow, which is not installed; install it with "
            f"{INSTALL_HINT}"
        ) from None
    return mlflow


def download_model(uri: str, scratch_dir: str | os.PathLike[str]) -> str:
    """Downloads the model at an MLflow URI; returns the directory holding ``saved_model.pb``.

    The URI may name an MLflow model logged with the TensorFlow flavor (as `akdl.mlflow.log_model`
    logs it): its SavedModel is the flavor's ``saved_model_dir``. It may also name a plain
    artifact (``runs:/<run_id>/export``) that is a SavedModel directory or a ``.zip`` /
    ``.tar.gz`` of one.

    Args:
        uri: ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<model_id>``
            or ``runs:/<run_id>/<path>``.
        scratch_dir: where the model is downloaded (created if missing); the caller owns it.

    Raises:
        PredictError: MLflow is not installed; the model, version, alias, run or path does not
            exist (the message names the URI and lists the registered versions and aliases
            where it can); or the artifact holds no SavedModel.
    """
    mlflow = import_mlflow(f"model path {uri!r}")
    from mlflow.exceptions import MlflowException

    scratch_dir = os.fspath(scratch_dir)
    download_dir = os.path.join(scratch_dir, "mlflow")
    os.makedirs(download_dir, exist_ok=True)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=download_dir)
    except MlflowException as exc:
        problem = exc.message.rstrip(".")
        raise PredictError(
            f"cannot resolve model path {uri!r} through MLflow (tracking URI "
            f"{mlflow.get_tracking_uri()!r}): {problem}{_registry_hint(mlflow, uri)}"
        ) from None
    return _saved_model_in(uri, local, os.path.join(scratch_dir, "unpacked"))


def _saved_model_in(uri: str, local: str, unpack_dir: str) -> str:
    """The SavedModel directory inside a downloaded MLflow model or artifact."""
    from akdl.model_rows import find_saved_model
    from akdl.predict.model_source import resolve_model_path

    mlmodel = os.path.join(local, "MLmodel")
    if not os.path.isfile(mlmodel):  # a plain artifact: a SavedModel directory or archive
        try:
            return resolve_model_path(local, unpack_dir)
        except PredictError as exc:
            raise PredictError(f"model path {uri!r}: {exc}") from None
    from mlflow.models import Model

    flavors = Model.load(mlmodel).flavors
    saved_model_dir = flavors.get("tensorflow", {}).get("saved_model_dir")
    if saved_model_dir is None:
        raise PredictError(
            f"model path {uri!r} is an MLflow model without a TensorFlow SavedModel: its "
            f"flavors are {sorted(flavors)}; log it with akdl.mlflow.log_model, or "
            f"mlflow.tensorflow.log_model of a tf.Module"
        )
    try:
        return find_saved_model(os.path.join(local, saved_model_dir))
    except AkdlError as exc:
        raise PredictError(f"model path {uri!r}: {exc}") from None


def _registry_hint(mlflow: Any, uri: str) -> str:
    """What the registry holds under the URI's model name, for an error message."""
    if not uri.startswith("models:/"):
        return ""
    rest = uri[len("models:/"):]
    name = rest.split("@", 1)[0] if "@" in rest else rest.rsplit("/", 1)[0]
    client = mlflow.MlflowClient()
    try:
        model = client.get_registered_model(name)
    except Exception:  # the hint is best-effort; the download's error is the message
        try:
            names = sorted(m.name for m in client.search_registered_models(max_results=_LISTED))
        except Exception:
            return ""
        return f"; registered models: {names or 'none'}"
    try:
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    except Exception:
        versions = []
    aliases = dict(sorted((getattr(model, "aliases", None) or {}).items()))
    return f"; model {name!r} has versions {versions} and aliases {aliases or 'none'}"
