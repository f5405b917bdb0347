"""A TF operator's metrics and parameters in the driver's active MLflow run (Flink driver).

When a job ends and the driver has an active MLflow run (``mlflow.start_run()``), every TF
stage of the job logs into it: its operator's parameters as ``<Operator>.<param>`` and each
metric value as ``<Operator>/<task>/<metric>`` (e.g. ``TFTableModelTrainBatchOp/chief_0/loss``)
at its step and time. Without ``mlflow`` imported by the program, nothing happens (no run can
be active), and MLflow is never imported here.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from bridge.metrics import MetricRecord

__all__ = ["log_to_active_run", "metric_key"]

_log = logging.getLogger("akdl.mlflow")
# MLflow's own limits for one log_batch call.
_METRICS_PER_CALL = 1000
_PARAMS_PER_CALL = 100
_DEFAULT_MAX_PARAM_CHARS = 6000


class _Described(Protocol):
    operator_name: str
    params: dict[str, Any]


def metric_key(operator_name: str, record: MetricRecord) -> str:
    """The MLflow key of one metric value: ``<Operator>/<role>_<index>/<metric>``."""
    return f"{operator_name}/{record.task.replace(':', '_')}/{record.name}"


def _param_text(value: Any) -> str:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def log_to_active_run(stages: Sequence[tuple[_Described, list[MetricRecord]]]) -> None:
    """Log each stage's parameters and metric values to the active MLflow run, if any.

    Never raises: a failure to log is a warning, the job's result stands.
    """
    mlflow = sys.modules.get("mlflow")
    if mlflow is None or not stages:
        return
    try:
        run = mlflow.active_run()
        if run is None:
            return
        _log_batches(mlflow, run.info.run_id, stages)
    except Exception as exc:  # MlflowException, or the store unreachable
        _log.warning("could not log the TF operators' metrics to the MLflow run: %s", exc)


def _log_batches(mlflow: Any, run_id: str,
                 stages: Sequence[tuple[_Described, list[MetricRecord]]]) -> None:
    from mlflow.entities import Metric, Param

    client = mlflow.tracking.MlflowClient()
    max_chars = _max_param_chars()
    params: list[Param] = []
    metrics: list[Metric] = []
    for description, records in stages:
        for name, value in description.params.items():
            if value is None:
                continue
            text = _param_text(value)
            if len(text) > max_chars:
                _log.warning("MLflow keeps at most %d characters of a parameter; %s.%s has "
                             "%d and is logged cut short", max_chars, description.operator_name,
                             name, len(text))
                text = text[:max_chars]
            params.append(Param(f"{description.operator_name}.{name}", text))
        metrics += [
            Metric(metric_key(description.operator_name, r), r.value, int(r.time * 1000), r.step)
            for r in records
        ]
    try:
        for start in range(0, len(params), _PARAMS_PER_CALL):
            client.log_batch(run_id, params=params[start:start + _PARAMS_PER_CALL])
    except Exception as exc:  # e.g. the same operator ran twice in the run, set differently
        _log.warning("could not log the TF operators' parameters to MLflow run %s (the metrics "
                     "are logged): %s", run_id, exc)
    for start in range(0, len(metrics), _METRICS_PER_CALL):
        client.log_batch(run_id, metrics=metrics[start:start + _METRICS_PER_CALL])
    _log.info("logged %d parameters and %d metric values to MLflow run %s", len(params),
              len(metrics), run_id)


def _max_param_chars() -> int:
    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH
    except ImportError:
        return _DEFAULT_MAX_PARAM_CHARS
    return int(MAX_PARAM_VAL_LENGTH)
