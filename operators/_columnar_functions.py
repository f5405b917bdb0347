"""The columnar path's vectorized functions (run in the Flink Python worker).

PyFlink calls a vectorized (pandas) scalar function once per Arrow batch, with one
``pandas.Series`` per argument, and no Python object per row is made on the way. Each function
owns its subtask's TF process through a `TaskSession`, as `TFStageFunction` does on the row path:

* `PredictFunction`: every batch goes to the TF process as columns; the predictions come back as
  columns, in order, and are the function's result (one row per input row).
* `ScriptStageFunction` (batch and train stages): the rows of one worker arrive sorted, the
  worker's marker rows last (`operators._columnar_stage` routes and sorts them in SQL). Data rows
  go to the TF process as columns; at the first marker, end of input is sent, ``main`` runs, and
  its output rows are returned packed into the marker rows' cells (NULL on every other row),
  which SQL unpacks into rows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pyflink.table import FunctionContext
from pyflink.table.udf import ScalarFunction

from bridge.column_batch import (
    ColumnData,
    decode_batch,
    encode_batch,
    is_plain_array,
    to_python,
)
from bridge.column_types import Schema
from bridge.errors import AkdlError
from bridge.task_ref import TaskRef
from operators._columnar_sql import FeedLayout, float_result
from operators._jobs import stage_coordinator
from operators._pandas_columns import column_from_series, nan_flags, series_from_values
from operators._stage_plan import StagePlan
from operators._task_session import TaskSession

__all__ = ["INDEX_FIELD", "PredictFunction", "ScriptStageFunction", "nan_field"]

INDEX_FIELD = "__akdl_i"
_log = logging.getLogger("akdl.columnar")


def nan_field(name: str) -> str:
    """The result field that flags the NaN rows of FLOAT or DOUBLE column ``name``."""
    return f"__akdl_nan_{name}"


def _columns(layout: FeedLayout, args: Sequence[pd.Series]) -> list[ColumnData]:
    """The wire columns of a layout's arguments."""
    columns, i = [], 0
    for f in layout.schema:
        width = layout.count(f.type)
        values = args[i]
        flags = args[i + 1] if width == 2 else None
        if f.type.is_array:
            columns.append(column_from_series(f.name, f.type, values, None, flags))
        else:
            columns.append(column_from_series(f.name, f.type, values, flags))
        i += width
    return columns


def _result_frame(schema: Schema, values: list[Any]) -> pd.DataFrame:
    """A result DataFrame of columns of Python values, with NaN flags beside float columns."""
    frame: dict[str, pd.Series] = {}
    for f, column in zip(schema.fields, values, strict=True):
        frame[f.name] = series_from_values(f.type, column)
        if float_result(f.type):
            frame[nan_field(f.name)] = nan_flags(column)
    return pd.DataFrame(frame)


class _SessionFunction(ScalarFunction):
    """A vectorized function that owns one TF process of a stage."""

    def __init__(self, plan: StagePlan):
        self._plan = plan
        self._layout = FeedLayout(_parse(plan.spec.input_schema))
        self._session: TaskSession | None = None
        self._task: TaskRef | None = None

    @property
    def _where(self) -> str:
        task = self._task.describe() if self._task else "(no task)"
        return f"{self._plan.operator_name} {task}"

    def _start(self, context: FunctionContext, subtask: int) -> None:
        task = TaskRef.of_subtask(subtask, self._plan.num_workers, context.get_attempt_number())
        self._task = task
        coordinator = stage_coordinator(context, self._plan.stage)
        if coordinator is None and self._plan.needs_coordinator:
            raise AkdlError(
                f"{self._where}: this stage of {self._plan.parallelism} TF processes has no "
                "coordinator; run the job through akdl (op.collect(), op.print(), execute())"
            )
        self._session = TaskSession(self._plan, task, coordinator, context.get_metric_group())
        self._session.start()
        _log.info("%s: columnar path, TF process started", self._where)

    def _batch(self, args: Sequence[pd.Series], rows: int) -> Any:
        return encode_batch(self._layout.schema, _columns(self._layout, args), rows)

    def close(self) -> None:
        """Stop the TF process (a failed task keeps its work dir)."""
        if self._session is not None:
            self._session.close()
            self._session = None


class PredictFunction(_SessionFunction):
    """Predicts every batch of its subtask with the SavedModel in its TF process.

    Args:
        plan: the predict stage's plan; its input schema is the selected columns.
    """

    def __init__(self, plan: StagePlan):
        super().__init__(plan)
        self._output_schema = _parse(plan.spec.output_schema)

    def open(self, function_context: FunctionContext) -> None:
        """Start this subtask's TF process."""
        subtask = function_context.get_index_of_this_subtask()
        parallel = function_context.get_number_of_parallel_subtasks()
        if parallel != self._plan.num_workers:
            raise AkdlError(
                f"{self._plan.operator_name}: the predict stage runs at parallelism {parallel}, "
                f"but {self._plan.num_workers} TF processes were planned; set the "
                "environment's parallelism, or the path to 'rows'"
            )
        self._start(function_context, subtask)

    def eval(self, *args: pd.Series) -> pd.DataFrame:
        """The predictions of one batch, in order."""
        return _result_frame(self._output_schema, self.predict(self._batch(args, len(args[0]))))

    def predict(self, batch: Any) -> list[Any]:
        """The output columns (numpy arrays or lists of values) for one wire batch, in order."""
        parts: list[list[Any]] = [[] for _ in self._output_schema.fields]
        for answer in self._session.exchange_columns(batch):
            count, columns = decode_batch(answer)
            for part, ft, column in zip(parts, self._output_schema.types, columns, strict=True):
                part.append(column.values if is_plain_array(ft, column)
                            else to_python(ft, column, count))
        return [
            np.concatenate(p) if all(isinstance(x, np.ndarray) for x in p)
            else [v for x in p for v in x]
            for p in parts
        ]

    def close(self) -> None:
        """End the TF process's input, check that it succeeded, then stop it."""
        if self._session is not None:
            try:
                self._session.finish(self._plan.rpc_timeout_s)
            finally:
                super().close()


class ScriptStageFunction(_SessionFunction):
    """Feeds one worker's rows to its TF process and packs what ``main`` writes.

    Arguments: the worker key, the row number (which makes the planner keep the sort), the
    marker flag, then the input columns as `FeedLayout` lays them out.

    Args:
        plan: the stage's plan.
        markers: marker rows per worker; the output is spread over them.
    """

    def __init__(self, plan: StagePlan, markers: int):
        super().__init__(plan)
        self._output_schema = _parse(plan.spec.output_schema)
        self._markers = markers
        self._outputs: list[list[Any]] | None = None
        self._share = 0
        self._markers_seen = 0

    def open(self, function_context: FunctionContext) -> None:
        """Start the TF process of the task whose key routes to this subtask, if any."""
        subtask = function_context.get_index_of_this_subtask()
        if subtask < self._plan.parallelism:
            self._start(function_context, subtask)

    def eval(self, key: pd.Series, row_number: pd.Series, marker: pd.Series,
             *args: pd.Series) -> pd.DataFrame:
        """Feed the batch's data rows; pack the output into the marker rows."""
        is_marker = marker.to_numpy(dtype=bool)
        data = np.flatnonzero(~is_marker)
        if len(data):
            if self._session is None or self._outputs is not None:
                raise AkdlError(
                    f"{self._where}: data rows arrived after the end of its input, or at a "
                    "subtask without a task; the stage's routing is broken"
                )
            if len(data) < len(is_marker):
                args = tuple(a.iloc[data].reset_index(drop=True) for a in args)
            self._session.feed_columns(self._batch(args, len(data)))
        cells: list[list[Any] | None] = [None] * len(is_marker)
        for row in np.flatnonzero(is_marker).tolist():
            cells[row] = self._next_share()
        return self._pack(cells)

    def _next_share(self) -> list[list[Any]]:
        """The output rows this marker carries (all of them are known at the first marker)."""
        if self._outputs is None:
            if self._session is None:
                raise AkdlError(f"{self._where}: a marker reached a subtask without a task")
            rows = self._session.finish(self._plan.rpc_timeout_s)
            self._outputs = rows
            self._share = max(1, math.ceil(len(rows) / self._markers))
            super().close()
        start = self._markers_seen * self._share
        self._markers_seen += 1
        if self._markers_seen == self._markers:
            return self._outputs[start:]  # the last marker takes whatever is left
        return self._outputs[start:start + self._share]

    def _pack(self, cells: list[list[list[Any]] | None]) -> pd.DataFrame:
        """One packed cell per row: NULL, or the index and column arrays of some output rows."""
        frame: dict[str, list[Any]] = {INDEX_FIELD: []}
        for f in self._output_schema.fields:
            frame[f.name] = []
            if float_result(f.type):
                frame[nan_field(f.name)] = []
        for rows in cells:
            if rows is None:
                for column in frame.values():
                    column.append(None)
                continue
            frame[INDEX_FIELD].append(np.arange(1, len(rows) + 1, dtype=np.int32))
            for j, f in enumerate(self._output_schema.fields):
                values = [r[j] for r in rows]
                frame[f.name].append(values)
                if float_result(f.type):
                    frame[nan_field(f.name)].append(nan_flags(values).tolist())
        return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in frame.items()})


def _parse(text: str) -> Schema:
    from bridge.schema import parse_schema

    return parse_schema(text)
