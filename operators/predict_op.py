"""Predict operators: run a SavedModel over batch tables and streams (runs in the Flink driver).

``TFTableModelPredict{Batch,Stream}Op`` take the model as a table of Alink model rows
(``linkFrom(model_op, data_op)``); ``TFSavedModelPredict{Batch,Stream}Op`` take ``modelPath``,
a SavedModel directory, ``.zip`` or ``.tar.gz``.

Prediction runs in TF processes through the same bridge as the script operators, so TensorFlow
is never imported here and ``pythonEnv`` applies. Each subtask's TF process loads the model
once, predicts in micro-batches of up to ``batchSize`` rows, and answers every input row with
one output row, in order. Stream stages also send partial batches every ``flushIntervalMs``
(100 ms by default), so a row waits at most about that long for its batch to fill.

A model table is computed first, in its own Flink job, and shipped to each TF process inside
the job graph (as one zip), so it works wherever the TaskManagers run.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from bridge.model_rows import MODEL_SCHEMA, model_rows_to_zip_bytes
from bridge.predict_columns import ColumnPlan, plan_columns
from bridge.protos import task_spec_pb2
from bridge.schema import ColumnNotFoundError, parse_schema
from operators import env as _env
from operators._task_session import MODEL_FILE
from operators._tf_function import TFPredictFunction, TFStreamPredictFunction
from operators.base import BatchOperator, StreamOperator
from operators.params import Param, at_least, json_list
from operators.tensorflow_op import attach_stage, new_plan
from operators.types import schema_of_table

__all__ = [
    "TFSavedModelPredictBatchOp",
    "TFSavedModelPredictStreamOp",
    "TFTableModelPredictBatchOp",
    "TFTableModelPredictStreamOp",
]

PREDICT_PARAMS = (
    Param("outputSchemaStr", str, required=True,
          doc='the prediction columns and their types, e.g. "probability double"'),
    Param("selectedCols", list, convert=json_list,
          doc="input columns fed to the model, in signature-input order (default: all)"),
    Param("reservedCols", list, convert=json_list,
          doc="input columns kept in the output, before the predictions (default: all)"),
    Param("signatureDefKey", str, default="serving_default",
          doc="the SavedModel signature to run"),
    Param("inputSignatureDefs", list, convert=json_list,
          doc="signature input fed by each selected column (default: the column names)"),
    Param("outputSignatureDefs", list, convert=json_list,
          doc="signature output read by each output column (default: the column names)"),
    Param("graphDefTag", str, default="serve", doc="the MetaGraph tag(s) to load"),
    Param("batchSize", int, default=256, validate=at_least(1),
          doc="rows per call of the model"),
    Param("numWorkers", int, validate=at_least(1),
          doc="TF processes predicting in parallel (default: the environment's parallelism)"),
    Param("intraOpParallelism", int, default=0, validate=at_least(0),
          doc="TF intra-op threads per process (0: TF's default)"),
    Param("pythonEnv", str, default="",
          doc="Python interpreter, or venv directory, that runs the TF processes"),
    Param("printProcessInfo", bool, default=False,
          doc="echo spawn commands and each TF process's output to stdout"),
    Param("rpcTimeoutS", float, default=600.0, validate=at_least(1),
          doc="longest wait on a TF process before the job fails"),
)
MODEL_PATH_PARAM = Param(
    "modelPath", str, required=True, doc="a SavedModel directory, or a .zip / .tar.gz of one"
)
FLUSH_PARAM = Param(
    "flushIntervalMs", int, default=100, validate=at_least(1),
    doc="longest wait for a micro-batch to fill, and for output to reach Flink, in a stream",
)
_MODEL_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


class _PredictOperatorMixin:
    """Turns the predict parameters into a predict stage over ``table``."""

    _MODE: ClassVar[int] = task_spec_pb2.PREDICT

    def _columns(self, table) -> ColumnPlan:
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

    def _predict_output(self, table, model_path: str, model_file: bytes = b"", stream=False):
        self._check_required()
        columns = self._columns(table)
        self._check_signature_counts(columns)
        workers = self.getNumWorkers() or _env.get_parallelism()
        params = {
            "model_path": model_path,
            "signature_def_key": self.getSignatureDefKey(),
            "graph_def_tag": self.getGraphDefTag(),
            "input_signature_defs": self.getInputSignatureDefs() or [],
            "output_signature_defs": self.getOutputSignatureDefs() or [],
            "batch_size": self.getBatchSize(),
        }
        plan = new_plan(
            self,
            table._t_env,
            mode=self._MODE,
            input_schema=columns.selected_schema.to_string(),
            output_schema=columns.output_schema.to_string(),
            num_workers=workers,
            num_ps=0,
            user_files=(),
            main_script="",
            user_params_json=json.dumps(params),
            flush_interval_ms=self.getFlushIntervalMs() if stream else 0,
            model_file=model_file,
        )
        function_type = TFStreamPredictFunction if stream else TFPredictFunction
        return attach_stage(self, table, plan, function_type(plan, columns), columns.result_schema)

    def _checked_model_path(self) -> str:
        path = os.path.abspath(self.getModelPath())
        if not os.path.exists(path):
            raise self._param_error("modelPath", f"{path!r} does not exist")
        if os.path.isfile(path) and not path.endswith(_MODEL_SUFFIXES):
            raise self._param_error(
                "modelPath", f"{path!r} is a file but not a {'/'.join(_MODEL_SUFFIXES)} archive"
            )
        return path

    def _link_model_and_data(self, ops: tuple[Any, ...], stream: bool) -> None:
        """The output of ``linkFrom(model_op, data_op)``: the data predicted with the model."""
        self._check_required()
        if len(ops) != 2:
            raise self._param_error("linkFrom", f"takes (model_op, data_op), got {len(ops)} inputs")
        model_op, data_op = ops
        (table,) = self._input_tables((data_op,), 1)
        model = self._model_table_zip(model_op)
        self._set_output(self._predict_output(table, MODEL_FILE, model, stream=stream))

    def _model_table_zip(self, model_op: Any) -> bytes:
        names = [n.lower() for n in model_op.getColNames()]
        if names != ["model_id", "model_info"]:
            raise self._param_error(
                "linkFrom", f"the model input must have the columns of {MODEL_SCHEMA!r}, "
                f"got {model_op.getColNames()}",
            )
        return model_rows_to_zip_bytes(model_op.collect())


class TFTableModelPredictBatchOp(_PredictOperatorMixin, BatchOperator):
    """Predicts over a batch table with a model given as a table of model rows."""

    PARAMS = PREDICT_PARAMS

    def linkFrom(self, *ops: Any) -> TFTableModelPredictBatchOp:
        """``linkFrom(model_op, data_op)``: the model table is collected first."""
        self._link_model_and_data(ops, stream=False)
        return self


class TFTableModelPredictStreamOp(_PredictOperatorMixin, StreamOperator):
    """Predicts over a stream with a model given as a (batch) table of model rows."""

    PARAMS = (*PREDICT_PARAMS, FLUSH_PARAM)

    def linkFrom(self, *ops: Any) -> TFTableModelPredictStreamOp:
        """``linkFrom(model_op, data_op)``: the model table is collected first."""
        self._link_model_and_data(ops, stream=True)
        return self


class TFSavedModelPredictBatchOp(_PredictOperatorMixin, BatchOperator):
    """Predicts over a batch table with the SavedModel at ``modelPath``."""

    PARAMS = (MODEL_PATH_PARAM, *PREDICT_PARAMS)

    def linkFrom(self, *ops: Any) -> TFSavedModelPredictBatchOp:
        """Predicts over the single input's rows."""
        self._check_required()
        (table,) = self._input_tables(ops, 1)
        self._set_output(self._predict_output(table, self._checked_model_path()))
        return self


class TFSavedModelPredictStreamOp(_PredictOperatorMixin, StreamOperator):
    """Predicts over a stream with the SavedModel at ``modelPath``."""

    PARAMS = (MODEL_PATH_PARAM, *PREDICT_PARAMS, FLUSH_PARAM)

    def linkFrom(self, *ops: Any) -> TFSavedModelPredictStreamOp:
        """Predicts over the single input stream."""
        self._check_required()
        (table,) = self._input_tables(ops, 1)
        self._set_output(self._predict_output(table, self._checked_model_path(), stream=True))
        return self
