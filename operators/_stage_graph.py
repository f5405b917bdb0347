"""Wiring a TF stage into the Flink job graph (runs in the driver).

The stage is: input table -> SQL that assigns each row one of the worker subtasks' keys and
adds one control row per subtask -> JVM-side keyBy (no Python hop) -> the keyed
:class:`TFStageFunction` at parallelism ``num_workers + num_ps`` -> output table.

Keys are computed with Flink's own key-group assignment, so key ``keys[i]`` really lands on
subtask ``i``.
"""

from __future__ import annotations

import uuid

from pyflink.common import Types
from pyflink.datastream.data_stream import KeyedStream
from pyflink.java_gateway import get_gateway
from pyflink.table import StreamTableEnvironment, Table

from bridge.schema import FieldType, Schema, TypeKind, quote_name
from operators._planner_thread import ensure_planner_thread
from operators._stage_function import FlushPolicy, TFStageFunction
from operators._stage_handlers import StageHandler
from operators._stage_plan import StagePlan, cap_bundle_time
from operators.types import row_type_info, schema_of_table, table_schema, to_type_info

__all__ = ["MAX_PARALLELISM", "build_stage", "data_subtasks", "keyed_input", "subtask_keys"]

# Fixed so that the key -> subtask mapping computed here holds at run time.
MAX_PARALLELISM = 128
_KEY_COLUMN = "__akdl_key"
_VALUE_COLUMN = "__akdl_value"


def subtask_keys(parallelism: int, max_parallelism: int = MAX_PARALLELISM) -> list[int]:
    """Smallest int keys such that ``keys[i]`` is routed to subtask ``i``.

    The key object is the one-field Java ``Row`` that the JVM keyBy extracts.
    """
    jvm = get_gateway().jvm
    assign = jvm.org.apache.flink.runtime.state.KeyGroupRangeAssignment.assignKeyToParallelOperator
    found: dict[int, int] = {}
    candidate = 0
    while len(found) < parallelism:
        key_row = jvm.org.apache.flink.types.Row(1)
        key_row.setField(0, candidate)
        found.setdefault(assign(key_row, max_parallelism, parallelism), candidate)
        candidate += 1
    return [found[i] for i in range(parallelism)]


def _stream_type(ft: FieldType) -> FieldType:
    """The SQL type a column is cast to so it matches its DataStream type information."""
    if ft.kind is TypeKind.DECIMAL:
        # PyFlink's DataStream coders reject the planner's DECIMAL type; it is fed as float32.
        return FieldType(TypeKind.DOUBLE)
    if ft.kind is TypeKind.TIMESTAMP:
        return FieldType(TypeKind.TIMESTAMP, precision=3, local_time_zone=ft.local_time_zone)
    return ft


def data_subtasks(num_workers: int, num_ps: int) -> range:
    """The subtasks that receive rows: every worker, except the chief when there are PS.

    Under TF 2's ParameterServerStrategy the chief only coordinates; the workers read the data.
    """
    return range(1 if num_ps and num_workers > 1 else 0, num_workers)


def _keyed_query(view: str, schema: Schema, keys: list[int], data: range) -> str:
    casts = [
        f"CAST({quote_name(f.name, always=True)} AS {_stream_type(f.type).sql()})"
        for f in schema.fields
    ]
    nulls = [f"CAST(NULL AS {_stream_type(f.type).sql()})" for f in schema.fields]
    worker_keys = "ARRAY[" + ", ".join(str(keys[i]) for i in data) + "]"
    # An array index evaluates RAND_INTEGER once per row (a CASE would re-evaluate it).
    rows = (
        f"SELECT {worker_keys}[RAND_INTEGER({len(data)}) + 1] AS {_KEY_COLUMN}, "
        f"ROW(FALSE{''.join(', ' + c for c in casts)}) AS {_VALUE_COLUMN} FROM {view}"
    )
    control_keys = ", ".join(f"({k})" for k in keys)
    control = (
        f"SELECT k AS {_KEY_COLUMN}, ROW(TRUE{''.join(', ' + n for n in nulls)}) "
        f"AS {_VALUE_COLUMN} FROM (VALUES {control_keys}) AS control_rows(k)"
    )
    return f"{rows} UNION ALL {control}"


def keyed_input(
    t_env: StreamTableEnvironment, table: Table, parallelism: int, data: range
) -> KeyedStream:
    """``table``'s rows keyed for a stage of ``parallelism`` subtasks.

    Each row goes to one of the ``data`` subtasks; every subtask also gets one control row.
    Elements are ``(is_control, col_1, ..., col_n)``. The consumer must run at ``parallelism``
    with max parallelism :data:`MAX_PARALLELISM`.
    """
    ensure_planner_thread(t_env)
    input_schema = schema_of_table(table)
    keys = subtask_keys(parallelism)
    view = f"akdl_tf_input_{uuid.uuid4().hex}"
    t_env.create_temporary_view(view, table)
    keyed_table = t_env.sql_query(_keyed_query(view, input_schema, keys, data))
    value_type = Types.ROW(
        [Types.BOOLEAN()] + [to_type_info(_stream_type(t)) for t in input_schema.types]
    )
    stream = t_env.to_append_stream(keyed_table, Types.ROW([Types.INT(), value_type]))
    j_keyed = stream._j_data_stream.keyBy(
        get_gateway().jvm.KeyByKeySelector(), Types.ROW([Types.INT()]).get_java_type_info()
    )
    return KeyedStream(j_keyed, value_type, stream)


def build_stage(
    table: Table,
    plan: StagePlan,
    handler: StageHandler,
    output_schema: Schema,
    flush: FlushPolicy | None = None,
) -> Table:
    """Append the TF stage described by ``plan`` to ``table``; returns the output table.

    Args:
        table: the stage's input.
        plan: the stage's plan.
        handler: the kind's hooks (`operators._stage_handlers`).
        output_schema: the schema of the rows the handler emits.
        flush: a stream stage's flush policy; it also caps PyFlink's bundle time.
    """
    t_env = table._t_env
    if flush is not None:
        cap_bundle_time(t_env, flush.interval_ms, plan.operator_name)
    keyed = keyed_input(
        t_env, table, plan.parallelism, data_subtasks(plan.num_workers, plan.num_ps)
    )
    output = (
        keyed.process(
            TFStageFunction(plan, handler, flush), output_type=row_type_info(output_schema)
        )
        .name(plan.operator_name)
        .set_parallelism(plan.parallelism)
        .set_max_parallelism(MAX_PARALLELISM)
    )
    return t_env.from_data_stream(output, table_schema(output_schema))
