"""Predict operators: run a SavedModel over batch tables and streams (runs in the Flink driver).

``TFTableModelPredict{Batch,Stream}Op`` take the model as a table of Alink model rows
(``linkFrom(model_op, data_op)``); ``TFSavedModelPredict{Batch,Stream}Op`` take ``modelPath``,
a SavedModel directory, ``.zip`` or ``.tar.gz``, or an MLflow ``models:/`` / ``runs:/`` URI.

Prediction runs in TF processes through the same bridge as the script operators, so TensorFlow
is never imported here and ``pythonEnv`` applies. Each subtask's TF process loads the model
once, predicts in micro-batches of up to ``batchSize`` rows, and answers every input row with
one output row, in order. Stream stages also send partial batches every ``flushIntervalMs``
(100 ms by default), so a row waits at most about that long for its batch to fill.

A model table is computed first, in its own Flink job, and shipped to each TF process inside
the job graph (as one zip), so it works wherever the TaskManagers run; so is a model that
``modelPath`` names by an MLflow URI, downloaded on the driver (`model_path_source`).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from bridge.errors import PredictError
from bridge.model_rows import MODEL_SCHEMA, model_rows_to_zip_bytes, saved_model_zip_bytes
from bridge.predict_columns import ColumnPlan, plan_columns
from bridge.predict_spec import predict_spec
from bridge.protos import task_spec_pb2
from bridge.schema import ColumnNotFoundError, parse_schema
from bridge.work_dir import MODEL_FILE
from operators import env as _env
from operators._columnar_stage import COLUMNAR, build_columnar_predict, choose_path, log_choice
from operators._op_metrics import MetricsMixin
from operators._stage_function import FlushPolicy
from operators._stage_graph import build_stage
from operators._stage_handlers import PredictHandler
from operators._stage_plan import plan_stage
from operators._tf_params import (
    FLUSH_PARAM,
    MODEL_PATH_PARAM,
    MODEL_STREAM_PARAMS,
    PREDICT_PARAMS,
)
from operators.base import BatchOperator, StreamOperator
from operators.types import schema_of_table

__all__ = [
    "TFSavedModelPredictBatchOp",
    "TFSavedModelPredictStreamOp",
    "TFTableModelPredictBatchOp",
    "TFTableModelPredictStreamOp",
]

_MODEL_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


class _PredictOperator(MetricsMixin):
    """Turns the predict parameters into a predict stage over a table."""

    def _flush_policy(self) -> FlushPolicy | None:
        return FlushPolicy(self.getFlushIntervalMs()) if self._STREAM else None

    def _columns(self, table: Any) -> ColumnPlan:
        input_schema = schema_of_table(table)
        try:
            output_schema = parse_schema(self.getOutputSchemaStr())
        except ValueError as exc:
            raise self._param_error("outputSchemaStr", str(exc)) from exc
        try:
            return plan_columns(
                input_schema, output_schema, self.getSelectedCols(), self.getReservedCols()
            )
        except ColumnNotFoundError as exc:
            raise self._param_error("selectedCols/reservedCols", str(exc)) from exc

    def _check_signature_counts(self, columns: ColumnPlan) -> None:
        pairs = (
            ("inputSignatureDefs", self.getInputSignatureDefs(), columns.selected_schema,
             "selectedCols"),
            ("outputSignatureDefs", self.getOutputSignatureDefs(), columns.output_schema,
             "outputSchemaStr"),
        )
        for param, names, schema, other in pairs:
            if names and len(names) != len(schema):
                raise self._param_error(
                    param, f"names {len(names)} tensors {names}, but {other} gives "
                    f"{len(schema)} columns {schema.names}",
                )

    def _predict_stage(
        self, table: Any, model_path: str, user_files: tuple[tuple[str, bytes], ...] = ()
    ) -> Any:
        self._check_required()
        columns = self._columns(table)
        self._check_signature_counts(columns)
        spec = predict_spec_of(self, model_path)
        plan = plan_stage(
            self,
            table._t_env,
            kind=task_spec_pb2.PREDICT,
            input_schema=columns.selected_schema.to_string(),
            output_schema=columns.output_schema.to_string(),
            num_workers=self.getNumWorkers() or _env.get_parallelism(),
            user_files=user_files,
            predict=spec,
            print_process_info=_env.is_print_process_info(),
        )
        self._track_stage(plan.stage)
        choice = choose_path(self, task_spec_pb2.PREDICT, columns.selected_schema,
                             columns.output_schema, _env.get_parallelism(), plan.parallelism)
        log_choice(plan, choice)
        flush = self._flush_policy()
        if choice.path == COLUMNAR:
            return build_columnar_predict(
                table, plan, columns, flush.interval_ms if flush is not None else None
            )
        return build_stage(table, plan, PredictHandler(columns), columns.result_schema, flush)


class _TableModelPredictOperator(_PredictOperator):
    """The model comes as a table of Alink model rows.

    Either form of Alink works: the model in the constructor and the data through ``linkFrom``
    (``TFTableModelPredictStreamOp(train_op).linkFrom(stream)``), or both through ``linkFrom``
    (``linkFrom(model_op, data_op)``).

    Args:
        model: the batch operator whose output is the model rows, or ``None`` to give it to
            ``linkFrom``.
        **kwargs: parameters, as for every operator.
    """

    def __init__(self, model: Any = None, **kwargs: Any):
        self._model_op = model
        super().__init__(**kwargs)

    def linkFrom(self, *ops: Any) -> Any:
        """Predicts the data input with the model; the model table is collected first.

        ``linkFrom(data_op)`` when the model came in the constructor, else
        ``linkFrom(model_op, data_op)``.
        """
        self._check_required()
        model_op, data_op = self._model_and_data(ops)
        (table,) = self._input_tables((data_op,), 1)
        model = (MODEL_FILE, self._model_table_zip(model_op))
        self._set_output(self._predict_stage(table, MODEL_FILE, (model,)))
        return self

    def _model_and_data(self, ops: tuple[Any, ...]) -> tuple[Any, Any]:
        if self._model_op is not None:
            if len(ops) == 2:
                raise self._param_error(
                    "model", "was given twice: in the constructor and as linkFrom's first "
                    "input; give it once, as TFTableModelPredict...Op(model_op).linkFrom(data_op) "
                    "or as linkFrom(model_op, data_op)",
                )
            if len(ops) != 1:
                raise self._param_error(
                    "linkFrom", f"takes the data input only (the model came in the "
                    f"constructor), got {len(ops)} inputs",
                )
            return self._model_op, ops[0]
        if len(ops) != 2:
            raise self._param_error(
                "model", f"is missing: linkFrom got {len(ops)} input(s); give the model in the "
                "constructor, TFTableModelPredict...Op(model_op).linkFrom(data_op), or as "
                "linkFrom(model_op, data_op)",
            )
        return ops[0], ops[1]

    def _model_table_zip(self, model_op: Any) -> bytes:
        if not isinstance(model_op, BatchOperator):
            raise self._param_error(
                "model", f"must be a batch operator of model rows ({MODEL_SCHEMA}), got "
                f"{type(model_op).__name__}",
            )
        names = [n.lower() for n in model_op.getColNames()]
        if names != ["model_id", "model_info"]:
            raise self._param_error(
                "linkFrom", f"the model input must have the columns of {MODEL_SCHEMA!r}, "
                f"got {model_op.getColNames()}",
            )
        return model_rows_to_zip_bytes(model_op.collect())


class _SavedModelPredictOperator(_PredictOperator):
    """The model is the SavedModel at ``modelPath``."""

    def linkFrom(self, *ops: Any) -> Any:
        """Predicts over the single input's rows."""
        self._check_required()
        (table,) = self._input_tables(ops, 1)
        self._set_output(self._predict_stage(table, *self._checked_model_path()))
        return self

    def _checked_model_path(self) -> tuple[str, tuple[tuple[str, bytes], ...]]:
        try:
            return model_path_source(self.getModelPath())
        except PredictError as exc:
            raise self._param_error("modelPath", str(exc)) from None


def predict_spec_of(params: Any, model_path: str) -> task_spec_pb2.PredictSpec:
    """The predict spec that a predict operator's (or the SQL function's) parameters set."""
    return predict_spec(
        model_path,
        signature_def_key=params.getSignatureDefKey(),
        graph_def_tag=params.getGraphDefTag(),
        input_signature_defs=params.getInputSignatureDefs(),
        output_signature_defs=params.getOutputSignatureDefs(),
        batch_size=params.getBatchSize(),
        tensor_format=params.getTensorStringFormat(),
    )


def model_path_source(path: str) -> tuple[str, tuple[tuple[str, bytes], ...]]:
    """Checks a ``modelPath`` on the driver: the path the TF processes open, and files to ship.

    A local path (a SavedModel directory or archive) is opened by the TF processes themselves, so
    it ships nothing. An MLflow URI (``models:/<name>/<version>``, ``models:/<name>@<alias>``,
    ``runs:/<run_id>/<path>``) is downloaded here through the driver's MLflow settings, and its
    SavedModel travels inside the job as one zip, like a model table's.

    Returns:
        ``(model_path, user_files)`` for the predict stage.

    Raises:
        PredictError: the path does not exist or is a file but no archive; or the URI cannot be
            resolved, or MLflow is not installed (the message says how to install it).
    """
    # akdl's resolver is imported here, on use: importing operators leaves akdl unloaded.
    from akdl.predict.model_source import resolve_model_path
    from akdl.predict.model_uri import is_mlflow_uri

    if is_mlflow_uri(path):
        with tempfile.TemporaryDirectory(prefix="akdl-mlflow-model-") as scratch:
            model_dir = resolve_model_path(path, scratch)
            # The same zip that model tables ship, made from the downloaded copy.
            data = saved_model_zip_bytes(model_dir)
        return MODEL_FILE, ((MODEL_FILE, data),)
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise PredictError(f"{path!r} does not exist")
    if os.path.isfile(path) and not path.endswith(_MODEL_SUFFIXES):
        raise PredictError(f"{path!r} is a file but not a {'/'.join(_MODEL_SUFFIXES)} archive")
    return path, ()


class TFTableModelPredictBatchOp(_TableModelPredictOperator, BatchOperator):
    """Predicts over a batch table with a model given as a table of model rows."""

    PARAMS = PREDICT_PARAMS


class TFTableModelPredictStreamOp(_TableModelPredictOperator, StreamOperator):
    """Predicts over a stream with a model given as a (batch) table of model rows."""

    PARAMS = (*PREDICT_PARAMS, FLUSH_PARAM, *MODEL_STREAM_PARAMS)


class TFSavedModelPredictBatchOp(_SavedModelPredictOperator, BatchOperator):
    """Predicts over a batch table with the SavedModel at ``modelPath``."""

    PARAMS = (MODEL_PATH_PARAM, *PREDICT_PARAMS)


class TFSavedModelPredictStreamOp(_SavedModelPredictOperator, StreamOperator):
    """Predicts over a stream with the SavedModel at ``modelPath``."""

    PARAMS = (MODEL_PATH_PARAM, *PREDICT_PARAMS, FLUSH_PARAM)
