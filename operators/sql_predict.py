"""Predict from SQL: a SavedModel as a Flink SQL function (MLSQL's predict UDF).

`register_predict_function` runs in the Flink driver; the function it registers,
`_SqlPredictFunction`, runs in Flink's Python workers. It is the predict operators' columnar
path (`operators._columnar_functions.PredictFunction`) with the user's own arguments:

* a vectorized (pandas) function, so PyFlink hands it whole Arrow batches and the TF process
  predicts each batch in slices of ``batchSize`` rows, never one model call per row;
* each subtask's ``open`` starts its own TF process, which predicts alone (predict tasks need no
  cluster, so no coordinator either: the function works in any query the user runs with plain
  PyFlink, ``execute_sql``, ``sql_query(...).execute()`` or a ``StatementSet``), and ``close``
  ends it;
* the SavedModel is zipped into the function when it is registered and written into each TF
  process's work dir, so no driver path need exist where the TaskManagers run.

A cancelled query closes the function too, which stops its TF processes; and each TF process
exits by itself when the process that started it (the Python worker) ends.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
from typing import Any

import numpy as np
import pandas as pd
from pyflink.table import DataTypes, FunctionContext
from pyflink.table.udf import udf

from bridge.column_batch import ColumnData, encode_batch
from bridge.column_types import Field, FieldType, Schema, TypeKind
from bridge.errors import AkdlError, PredictError
from bridge.model_rows import saved_model_zip_bytes
from bridge.protos import task_spec_pb2
from bridge.schema import parse_schema, parse_type
from bridge.work_dir import MODEL_FILE
from operators import env as _env
from operators._columnar_functions import PredictFunction
from operators._columnar_sql import columnar_obstacle, sql_type
from operators._columnar_stage import configure_vectorized
from operators._pandas_columns import FLOAT_KINDS, column_from_series, series_from_values
from operators._stage_plan import StagePlan, plan_stage
from operators._tf_params import FLUSH_PARAM, MODEL_PATH_PARAM, PREDICT_PARAMS
from operators.params import Param, WithParams
from operators.predict_op import model_path_source, predict_spec_of
from operators.types import to_data_type

__all__ = ["register_predict_function"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar")
# Kinds whose NULLs PyFlink's pandas conversion turns into NaN, None or NaT.
_NULL_AS_NA = frozenset({
    TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INT, TypeKind.BIGINT, TypeKind.BOOLEAN,
    TypeKind.DECIMAL, TypeKind.DATE, TypeKind.TIMESTAMP,
})
_FILLERS: dict[TypeKind, Any] = {
    TypeKind.BOOLEAN: False,
    TypeKind.DATE: datetime.date(1970, 1, 1),
    TypeKind.TIMESTAMP: pd.Timestamp(0),
}


def _not_taken(reason: str) -> Any:
    def check(value: Any) -> None:
        raise ValueError(f"is not taken by a SQL predict function: {reason}")

    return check


# Predict-op parameters that the query itself decides; setting one raises, saying why.
_NOT_TAKEN = tuple(
    Param(name, kind, default=default, validate=_not_taken(reason), doc=f"not taken: {reason}")
    for name, kind, default, reason in (
        ("selectedCols", list, None, "the function's arguments are the columns fed to the model"),
        ("reservedCols", list, None, "the query selects the columns it keeps"),
        ("numWorkers", int, None, "one TF process runs per subtask of the query's parallelism"),
        ("dataPath", str, "columnar", "the function always takes vectorized Arrow batches"),
        ("coordinator", str, "", "a predict function's TF processes predict alone"),
    )
)


class _SqlPredictParams(WithParams):
    """The predict parameters of one SQL predict function; errors name the function."""

    PARAMS = (MODEL_PATH_PARAM, *PREDICT_PARAMS, FLUSH_PARAM, *_NOT_TAKEN)

    def __init__(self, function_name: str, **kwargs: Any):
        self._function_name = function_name
        super().__init__(**kwargs)

    def _operator_name(self) -> str:
        return f"register_predict_function({self._function_name!r})"


def register_predict_function(
    name: str,
    model_path: str,
    input_schema_str: str,
    output_schema_str: str,
    t_env: Any = None,
    **predict_params: Any,
) -> None:
    """Register a SQL function that predicts with a SavedModel, in batch and stream queries.

    After ``register_predict_function("score", "export/", "x double, y double",
    "score double")``, ``SELECT id, score(f0, f1) AS p FROM t`` predicts every row. Registering
    the same name again replaces the function.

    Args:
        name: the function's SQL name (a plain identifier).
        model_path: what ``TFSavedModelPredictBatchOp``'s ``modelPath`` takes: a SavedModel
            directory, a ``.zip`` / ``.tar.gz`` of one, or an MLflow ``models:/`` or
            ``runs:/`` URI. The model is read now and travels inside the job.
        input_schema_str: one column per argument, in order; the names are the signature's
            input names (or see ``input_signature_defs``), the types the SQL types the
            arguments are cast to.
        output_schema_str: the output columns; one column makes the function return that
            type, several make it return ``ROW<...>`` of them.
        t_env: the table environment; default: akdl's batch one (`get_batch_table_env`). For
            streams pass the stream one, e.g. `get_stream_table_env()`.
        **predict_params: the predict operators' parameters in snake_case:
            ``signature_def_key``, ``input_signature_defs``, ``output_signature_defs``,
            ``graph_def_tag``, ``batch_size``, ``tensor_string_format``, ``python_env``,
            ``intra_op_parallelism``, ``rpc_timeout_s``, ``task_timeout_s``,
            ``work_dir_root``, ``keep_work_dir``, ``print_process_info`` and, for streams,
            ``flush_interval_ms``.

    Raises:
        ParamError: a bad name, schema, model path or parameter; the message names the
            function and the parameter.
    """
    params = _SqlPredictParams(str(name), model_path=model_path,
                               output_schema_str=output_schema_str, **predict_params)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise params._param_error("name", f"must be a plain SQL identifier, got {name!r}")
    t_env = t_env if t_env is not None else _env.get_batch_table_env()
    _check_not_builtin(params, t_env, name)
    input_schema = _schema(params, "inputSchemaStr", input_schema_str)
    output_schema = _schema(params, "outputSchemaStr", output_schema_str)
    _check_columns(params, input_schema, output_schema)
    model = _shipped_model(params)
    spec = predict_spec_of(params, model[0])
    plan = plan_stage(
        params, t_env, kind=task_spec_pb2.PREDICT, input_schema=input_schema.to_string(),
        output_schema=output_schema.to_string(), num_workers=1, user_files=(model,),
        predict=spec, print_process_info=_env.is_print_process_info(),
    )
    plan.spec.operator_name = params._operator_name()
    stream = _is_streaming(t_env)
    configure_vectorized(t_env, params.getFlushIntervalMs() if stream else None,
                         plan.operator_name)
    if len(output_schema) == 1:
        result_type = to_data_type(output_schema.types[0])
    else:
        result_type = DataTypes.ROW(
            [DataTypes.FIELD(f.name, to_data_type(f.type)) for f in output_schema])
    function = udf(
        _SqlPredictFunction(plan),
        input_types=[to_data_type(_fed_type(t)) for t in input_schema.types],
        result_type=result_type, func_type="pandas",
    )
    t_env.drop_temporary_function(name)
    t_env.create_temporary_function(name, function)


def _schema(params: _SqlPredictParams, param: str, text: Any) -> Schema:
    try:
        return parse_schema(text)
    except ValueError as exc:
        raise params._param_error(param, str(exc)) from None


def _check_not_builtin(params: _SqlPredictParams, t_env: Any, name: str) -> None:
    """A built-in function of that name would win over ours in SQL: refuse it."""
    user = {n.lower() for n in t_env.list_user_defined_functions()}
    builtin = {n.lower() for n in t_env.list_functions()} - user
    if name.lower() in builtin:
        raise params._param_error(
            "name", f"{name!r} is a built-in Flink SQL function, which SQL would call instead; "
            "choose another name")


def _check_columns(params: _SqlPredictParams, inputs: Schema, outputs: Schema) -> None:
    """Signature-name counts match the columns, and the vectorized path carries every type."""
    for param, names, schema, other in (
        ("inputSignatureDefs", params.getInputSignatureDefs(), inputs, "inputSchemaStr"),
        ("outputSignatureDefs", params.getOutputSignatureDefs(), outputs, "outputSchemaStr"),
    ):
        if names and len(names) != len(schema):
            raise params._param_error(
                param, f"names {len(names)} tensors {names}, but {other} gives {len(schema)} "
                f"columns {schema.names}")
    # NaN in a FLOAT/DOUBLE array result turns NULL here, as in a scalar one (documented).
    checked = Schema(tuple(f for f in outputs if not (
        f.type.is_array and f.type.value_type.kind in FLOAT_KINDS)))
    obstacle = columnar_obstacle(inputs, checked)
    if obstacle:
        param = "inputSchemaStr" if obstacle.startswith("input") else "outputSchemaStr"
        raise params._param_error(param, f"cannot be carried by a vectorized function: {obstacle}")


def _shipped_model(params: _SqlPredictParams) -> tuple[str, bytes]:
    """``(file name, content)`` of the model as it travels inside the job."""
    try:
        path, files = model_path_source(params.getModelPath())
    except PredictError as exc:
        raise params._param_error("modelPath", str(exc)) from None
    if files:
        return files[0]
    if os.path.isdir(path):
        try:
            return MODEL_FILE, saved_model_zip_bytes(path)
        except AkdlError as exc:
            raise params._param_error("modelPath", str(exc)) from None
    suffix = next(s for s in _ARCHIVES if path.lower().endswith(s))
    with open(path, "rb") as f:
        return f"model{suffix}", f.read()


def _is_streaming(t_env: Any) -> bool:
    return str(t_env.get_config().get("execution.runtime-mode", "streaming")).lower() != "batch"


def _fed_type(ft: FieldType) -> FieldType:
    """The SQL type an argument is cast to (DECIMAL as DOUBLE, TIMESTAMP as TIMESTAMP(3))."""
    return parse_type(sql_type(ft))


def _wire_column(field: Field, values: pd.Series) -> ColumnData:
    """The wire column of one argument, as PyFlink hands it over (NULLs as NaN, None or NaT)."""
    ft = field.type
    if ft.is_array:
        flags = None
        if ft.value_type.kind not in FLOAT_KINDS:  # a float array's NULL element is NaN
            flags = pd.Series([v is not None and bool(np.any(pd.isna(v))) for v in values],
                              dtype=object)
        return column_from_series(field.name, ft, values, None, flags)
    if ft.kind not in _NULL_AS_NA:
        if ft.kind in FLOAT_KINDS:  # NULL and NaN look alike here: both reach the model as NaN
            return column_from_series(field.name, ft, values, pd.Series(np.zeros(len(values),
                                                                                 dtype=bool)))
        return column_from_series(field.name, ft, values)
    nulls = pd.isna(values)
    if nulls.any():
        values = values.where(~nulls, _FILLERS.get(ft.kind, 0))
    return column_from_series(field.name, ft, values, nulls)


class _SqlPredictFunction(PredictFunction):
    """The registered function: its arguments are the input columns, its result the outputs.

    One instance per subtask (Flink unpickles each its own): ``open`` starts its TF process,
    ``close`` ends it.
    """

    def __init__(self, plan: StagePlan):
        super().__init__(plan)
        self._scalar = len(self._output_schema) == 1

    def open(self, function_context: FunctionContext) -> None:
        """Start this subtask's TF process, one of as many as the query's parallelism."""
        parallel = function_context.get_number_of_parallel_subtasks()
        spec = task_spec_pb2.TaskSpec()
        spec.CopyFrom(self._plan.spec)
        spec.num_workers = parallel
        self._plan = dataclasses.replace(
            self._plan, spec=spec,
            stage=dataclasses.replace(self._plan.stage, num_workers=parallel))
        super().open(function_context)

    def eval(self, *args: pd.Series) -> pd.Series | pd.DataFrame:
        """The predictions of one batch of rows, in order."""
        schema = self._layout.schema
        rows = len(args[0])
        if rows:
            columns = [_wire_column(f, a) for f, a in zip(schema.fields, args, strict=True)]
            outputs = self.predict(encode_batch(schema, columns, rows))
        else:
            outputs = [[] for _ in self._output_schema.fields]
        series = [series_from_values(f.type, v)
                  for f, v in zip(self._output_schema.fields, outputs, strict=True)]
        if self._scalar:
            return series[0]
        return pd.DataFrame({f.name: s for f, s in zip(self._output_schema.fields, series,
                                                       strict=True)})
