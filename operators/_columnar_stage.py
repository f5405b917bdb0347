"""Wiring a TF stage on the columnar path into the job graph (runs in the Flink driver).

The columnar path moves rows between the JVM and Python as Arrow batches, through PyFlink's
vectorized (pandas) scalar functions (`operators._columnar_functions`), instead of one row at a
time through a keyed process function (`operators._stage_graph`, the row path). Measured on
this project's machine, a vectorized function behind an OVER sort moved 4.2 times as many rows
per second as a bare row-at-a-time Python map (docs/performance.md).

* **Predict stages** (batch and stream): ``SELECT <reserved>, f(<selected>) FROM input``; the
  function answers every row, in order, and its ROW result is unpacked into the output columns.
* **Batch script and train stages**: SQL gives each row one worker's key and adds marker rows
  per task, ``ROW_NUMBER() OVER (PARTITION BY key ORDER BY marker)`` sorts each worker's rows
  before its markers, and the function (which must consume the row number, or the planner drops
  the sort) packs the script's output into the markers' cells, which ``CROSS JOIN UNNEST`` over
  an index array turns back into rows. Keys are chosen with Flink's own batch hash partitioner
  (``MathUtils.murmurHash(key) % parallelism``) so that key ``i`` lands on subtask ``i``.

`choose_path` decides which path a stage takes, and why; the operators' ``dataPath`` parameter
forces either.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from pyflink.java_gateway import get_gateway
from pyflink.table import DataTypes, Table
from pyflink.table.udf import udf

from bridge.column_types import Schema, quote_name
from bridge.predict_columns import ColumnPlan
from bridge.protos import task_spec_pb2
from operators._columnar_functions import (
    INDEX_FIELD,
    PredictFunction,
    ScriptStageFunction,
    nan_field,
)
from operators._columnar_sql import FeedLayout, columnar_obstacle, float_result, result_expression
from operators._planner_thread import ensure_planner_thread
from operators._stage_graph import data_subtasks
from operators._stage_plan import StagePlan, cap_bundle_time
from operators.types import to_data_type

__all__ = [
    "COLUMNAR",
    "PATHS",
    "ROWS",
    "PathChoice",
    "batch_hash_keys",
    "build_columnar_predict",
    "build_columnar_script",
    "choose_path",
    "configure_vectorized",
]

COLUMNAR, ROWS, AUTO = "columnar", "rows", "auto"
PATHS = (AUTO, COLUMNAR, ROWS)
# Rows per Arrow batch (PyFlink uses the smaller of the two options; both default to 1000).
ARROW_BATCH_ROWS = 10_000
_BATCH_OPTIONS = ("python.fn-execution.arrow.batch.size", "python.fn-execution.bundle.size")
_AUTO_PARALLELISM = "execution.batch.adaptive.auto-parallelism.enabled"
# Marker rows per task: the script's output is spread over them. UNNEST copies a marker's
# whole packed cell for each row it yields, so the cost per output row grows with the share a
# marker carries: with 8 markers 200k output rows took minutes (scripts/soak.py).
MARKERS_PER_TASK = 1024
_log = logging.getLogger("akdl.operators")


@dataclass(frozen=True)
class PathChoice:
    """Which path a stage takes, and why (for the log line and errors)."""

    path: str
    reason: str


def choose_path(
    op: Any,
    kind: int,
    input_schema: Schema,
    output_schema: Schema,
    parallelism: int,
    stage_parallelism: int,
) -> PathChoice:
    """The path of a stage: columnar where it can carry the stage, else the row path.

    Args:
        op: the operator (its ``dataPath`` is read).
        kind: the stage's ``TaskKind``.
        input_schema: the columns fed to TF.
        output_schema: the columns TF writes.
        parallelism: the parallelism the job's SQL operators run at.
        stage_parallelism: the TF processes the stage needs (workers and PS).

    Raises:
        ParamError: ``dataPath`` is ``columnar`` but the stage cannot take it.
    """
    forced = op.getDataPath()
    if forced == ROWS:
        return PathChoice(ROWS, "dataPath is 'rows'")
    obstacle = _obstacle(kind, input_schema, output_schema, parallelism, stage_parallelism)
    if not obstacle:
        return PathChoice(COLUMNAR, "vectorized Arrow batches")
    if forced == COLUMNAR:
        raise op._param_error("dataPath", f"is 'columnar', but {obstacle}")
    return PathChoice(ROWS, obstacle)


def _obstacle(kind: int, input_schema: Schema, output_schema: Schema, parallelism: int,
              stage_parallelism: int) -> str:
    if kind == task_spec_pb2.STREAM:
        return "stream script stages run on the row path (it emits while no input arrives)"
    if kind == task_spec_pb2.PREDICT:
        if stage_parallelism != parallelism:
            return (f"numWorkers ({stage_parallelism}) differs from the environment's "
                    f"parallelism ({parallelism}), which the vectorized predict runs at")
        return columnar_obstacle(input_schema, output_schema)
    if stage_parallelism > parallelism:
        return (f"the stage needs {stage_parallelism} TF processes, more than the environment's "
                f"parallelism ({parallelism}) that its SQL operators run at")
    return columnar_obstacle(input_schema, output_schema)


def configure_vectorized(t_env: Any, flush_interval_ms: int | None, operator: str) -> None:
    """Bigger Arrow batches (unless the user set them), routing-stable batch parallelism.

    With ``flush_interval_ms`` (streams), PyFlink also hands results on at least that often.
    """
    config = t_env.get_config()
    for key in _BATCH_OPTIONS:
        if not config.get(key, ""):
            config.set(key, str(ARROW_BATCH_ROWS))
    config.set(_AUTO_PARALLELISM, "false")
    if flush_interval_ms is not None:
        cap_bundle_time(t_env, flush_interval_ms, operator)


def _register(t_env: Any, function: Any, result: Any, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    t_env.create_temporary_function(name, udf(function, result_type=result, func_type="pandas"))
    return name


def _view(t_env: Any, table: Table) -> str:
    ensure_planner_thread(t_env)
    view = f"akdl_columnar_input_{uuid.uuid4().hex}"
    t_env.create_temporary_view(view, table)
    return view


def _result_fields(schema: Schema, wrap: Any = lambda t: t) -> list[Any]:
    fields = []
    for f in schema.fields:
        fields.append(DataTypes.FIELD(f.name, wrap(to_data_type(f.type))))
        if float_result(f.type):
            fields.append(DataTypes.FIELD(nan_field(f.name), wrap(DataTypes.BOOLEAN())))
    return fields


def _field(source: str, name: str) -> str:
    return f"{source}.{quote_name(name, always=True)}"


def build_columnar_predict(
    table: Table, plan: StagePlan, columns: ColumnPlan, flush_interval_ms: int | None
) -> Table:
    """Append a predict stage on the columnar path; returns the result table."""
    t_env = table._t_env
    configure_vectorized(t_env, flush_interval_ms, plan.operator_name)
    output = columns.output_schema
    function = _register(t_env, PredictFunction(plan), DataTypes.ROW(_result_fields(output)),
                         "akdl_predict")
    view = _view(t_env, table)
    args = ", ".join(FeedLayout(columns.selected_schema).expressions("v"))
    inner = f"SELECT v.*, {function}({args}) AS __akdl_out FROM {view} AS v"
    selected = []
    for (source, i), field in zip(columns.sources, columns.result_schema.fields, strict=True):
        if source == "input":
            value = f"p.{quote_name(columns.input_schema.fields[i].name, always=True)}"
        else:
            o = output.fields[i]
            value = result_expression(o.type, _field("p.__akdl_out", o.name),
                                      _field("p.__akdl_out", nan_field(o.name)))
        selected.append(f"{value} AS {quote_name(field.name, always=True)}")
    return t_env.sql_query(f"SELECT {', '.join(selected)} FROM ({inner}) AS p")


def batch_hash_keys(parallelism: int, count: int) -> list[int]:
    """Smallest INT keys such that key ``i`` of a batch hash exchange goes to subtask ``i``.

    Flink's batch ``BinaryHashPartitioner`` sends a one-INT-column key ``k`` to
    ``MathUtils.murmurHash(k) % parallelism``.
    """
    murmur = get_gateway().jvm.org.apache.flink.util.MathUtils.murmurHash
    found: dict[int, int] = {}
    candidate = 0
    while len(found) < count:
        channel = murmur(candidate) % parallelism
        if channel < count:
            found.setdefault(channel, candidate)
        candidate += 1
    return [found[i] for i in range(count)]


def build_columnar_script(
    table: Table, plan: StagePlan, output_schema: Schema, parallelism: int
) -> Table:
    """Append a batch script or train stage on the columnar path; returns its output table."""
    t_env = table._t_env
    configure_vectorized(t_env, None, plan.operator_name)
    keys = batch_hash_keys(parallelism, plan.parallelism)
    data = data_subtasks(plan.num_workers, plan.num_ps)
    packed_type = DataTypes.ROW([
        DataTypes.FIELD(INDEX_FIELD, DataTypes.ARRAY(DataTypes.INT())),
        *_result_fields(output_schema, DataTypes.ARRAY),
    ])
    function = _register(t_env, ScriptStageFunction(plan, MARKERS_PER_TASK), packed_type,
                         "akdl_stage")
    view = _view(t_env, table)
    layout = FeedLayout(_input_schema(plan))
    names = [f"__a{i}" for i in range(layout.width)]
    values = ", ".join(f"{e} AS {n}" for e, n in zip(layout.expressions("v"), names, strict=True))
    markers = ", ".join(f"{m} AS {n}" for m, n in
                        zip(layout.marker_expressions(), names, strict=True))
    data_keys = "ARRAY[" + ", ".join(str(keys[i]) for i in data) + "]"
    marker_keys = ", ".join(f"({k})" for k in keys for _ in range(MARKERS_PER_TASK))
    routed = (
        f"SELECT {data_keys}[RAND_INTEGER({len(data)}) + 1] AS __k, FALSE AS __m, {values} "
        f"FROM {view} AS v UNION ALL SELECT mk AS __k, TRUE AS __m, {markers} "
        f"FROM (VALUES {marker_keys}) AS markers(mk)"
    )
    arg_list = ", ".join(names)
    ordered = (f"SELECT __k, __m, {arg_list}, ROW_NUMBER() OVER (PARTITION BY __k ORDER BY __m) "
               f"AS __rn FROM ({routed})")
    packed = f"SELECT {function}(__k, __rn, __m, {arg_list}) AS __p FROM ({ordered})"
    outputs = []
    for f in output_schema.fields:
        value = f"{_field('s.__p', f.name)}[x.__i]"
        flag = f"{_field('s.__p', nan_field(f.name))}[x.__i]"
        outputs.append(f"{result_expression(f.type, value, flag)} AS "
                       f"{quote_name(f.name, always=True)}")
    return t_env.sql_query(
        f"SELECT {', '.join(outputs)} FROM (SELECT __p FROM ({packed}) WHERE __p IS NOT NULL) "
        f"AS s CROSS JOIN UNNEST(s.__p.{INDEX_FIELD}) AS x(__i)"
    )


def _input_schema(plan: StagePlan) -> Schema:
    from bridge.schema import parse_schema

    return parse_schema(plan.spec.input_schema)


def log_choice(plan: StagePlan, choice: PathChoice) -> None:
    """The log line that says which path a stage took and why."""
    _log.info("%s: %s path (%s)", plan.operator_name, choice.path, choice.reason)
