"""Running a table and fetching its rows as Arrow batches (runs in the Flink driver).

One gateway call per Arrow batch, about 20 times faster than PyFlink's ``TableResult.collect()``,
which makes several calls per row. This is the path of PyFlink's own ``to_pandas``.
"""

from __future__ import annotations

import datetime
from typing import Any

from pyflink.common import Row
from pyflink.java_gateway import get_gateway
from pyflink.table import Table

from bridge.errors import SchemaError
from bridge.schema import parse_type
from operators._planner_thread import ensure_planner_thread
from operators.types import table_type_strings

__all__ = ["collect_arrow", "collect_rows"]


def collect_rows(table: Table) -> list[Row]:
    """Runs ``table`` and returns its rows, fetched as Arrow batches."""
    type_texts = [type_text for _, type_text in table_type_strings(table)]
    if not all(_arrow_supported(t) for t in type_texts):
        # Types akdl does not model (MAP, ROW, TIME, ...): PyFlink's row-by-row path.
        ensure_planner_thread(table._t_env)
        with table.execute().collect() as results:
            return list(results)
    local_zoned = [_is_local_zoned(t) for t in type_texts]
    arrow_table = collect_arrow(table)
    if arrow_table.num_rows == 0:
        return []
    columns = [_column_values(column, ltz) for column, ltz in zip(arrow_table.columns, local_zoned)]
    return [Row(*values) for values in zip(*columns)]


def collect_arrow(table: Table) -> Any:
    """Runs ``table`` and returns its rows as one ``pyarrow.Table`` (no Python row objects).

    For results too large for Python rows; the columns keep Arrow's types.
    """
    import pyarrow

    table._t_env._before_execute()
    ensure_planner_thread(table._t_env)  # right before the planner runs (FLINK-23020)
    gateway = get_gateway()
    j_config = table._j_table.getTableEnvironment().getConfig()
    batch_rows = j_config.get(
        gateway.jvm.org.apache.flink.python.PythonOptions.MAX_ARROW_BATCH_SIZE
    )
    arrow_utils = gateway.jvm.org.apache.flink.table.runtime.arrow.ArrowUtils
    batches = arrow_utils.collectAsPandasDataFrame(table._j_table, batch_rows)
    chunks = []
    while batches.hasNext():
        chunks.append(bytes(batches.next()))
    if not chunks:
        names = [name for name, _ in table_type_strings(table)]
        return pyarrow.table({name: pyarrow.array([]) for name in names})
    return pyarrow.ipc.open_stream(b"".join(chunks)).read_all()


def _arrow_supported(type_text: str) -> bool:
    try:
        parse_type(type_text)
    except SchemaError:
        return False
    return True


def _is_local_zoned(type_text: str) -> bool:
    text = type_text.upper()
    return text.startswith("TIMESTAMP_LTZ") or "WITH LOCAL TIME ZONE" in text


def _column_values(column: Any, local_zoned: bool) -> list[Any]:
    """Python values of one Arrow column.

    Nanosecond timestamps are cut to microseconds (Python's resolution). TIMESTAMP_LTZ columns
    arrive as naive UTC wall-clock values and are returned as aware UTC datetimes.
    """
    import pyarrow

    arrow_type = column.type
    if not pyarrow.types.is_timestamp(arrow_type):
        return column.to_pylist()
    if arrow_type.unit == "ns":
        column = column.cast(pyarrow.timestamp("us", arrow_type.tz), safe=False)
    values = column.to_pylist()
    if local_zoned:
        utc = datetime.UTC
        values = [v if v is None or v.tzinfo else v.replace(tzinfo=utc) for v in values]
    return values

