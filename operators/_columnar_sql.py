"""The SQL around the columnar path's vectorized functions (runs in the Flink driver).

How a schema's columns become the arguments of a vectorized function (`FeedLayout`), and how
its packed or row results become columns again. PyFlink's pandas conversions lose NULLs and
NaNs (see `operators._pandas_columns`), so:

* numeric, BOOLEAN, DATE and TIMESTAMP columns are fed as ``COALESCE(c, <zero>)`` plus a
  ``c IS NULL`` flag;
* ARRAY columns also get an ``ARRAY_CONTAINS(c, NULL)`` flag, since no Example can carry a NULL
  element;
* FLOAT and DOUBLE results come back with a NaN flag, turned back into NaN here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.column_types import FieldType, Schema, TypeKind, quote_name

__all__ = [
    "FeedLayout",
    "columnar_obstacle",
    "float_result",
    "sql_type",
]

_FLAGGED_KINDS = frozenset({
    TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INT, TypeKind.BIGINT, TypeKind.BOOLEAN,
    TypeKind.FLOAT, TypeKind.DOUBLE, TypeKind.DECIMAL, TypeKind.DATE, TypeKind.TIMESTAMP,
})
_ZEROS = {
    TypeKind.BOOLEAN: "FALSE",
    TypeKind.DATE: "DATE '1970-01-01'",
    TypeKind.TIMESTAMP: "TIMESTAMP '1970-01-01 00:00:00'",
}
_FLOATS = frozenset({TypeKind.FLOAT, TypeKind.DOUBLE})


def sql_type(ft: FieldType) -> str:
    """The SQL type a column is fed as: DECIMAL as DOUBLE, TIMESTAMP as TIMESTAMP(3)."""
    if ft.kind is TypeKind.DECIMAL:
        return "DOUBLE"
    if ft.kind is TypeKind.TIMESTAMP:
        return "TIMESTAMP(3)"
    if ft.kind is TypeKind.ARRAY:
        return f"ARRAY<{sql_type(ft.value_type)}>"
    return ft.sql()


def _zero(ft: FieldType) -> str:
    return _ZEROS.get(ft.kind, f"CAST(0 AS {sql_type(ft)})")


def columnar_obstacle(input_schema: Schema, output_schema: Schema | None = None) -> str:
    """Why these schemas cannot take the columnar path; ``""`` when they can.

    Args:
        input_schema: the columns fed to TF.
        output_schema: the columns TF writes back, when they come back as columns.
    """
    for f in input_schema:
        if f.type.kind is TypeKind.TIMESTAMP and f.type.local_time_zone:
            return f"input column {f.name!r} is a TIMESTAMP_LTZ"
        if f.type.is_array and f.type.value_type.kind in (TypeKind.DECIMAL, TypeKind.TIMESTAMP):
            return f"input column {f.name!r} is an {f.type.sql()}"
    for f in output_schema or ():
        if f.type.kind is TypeKind.TIMESTAMP and f.type.local_time_zone:
            return f"output column {f.name!r} is a TIMESTAMP_LTZ"
        if f.type.is_array and f.type.value_type.kind in (*_FLOATS, TypeKind.DECIMAL):
            return (f"output column {f.name!r} is an {f.type.sql()}, whose NaN elements "
                    "PyFlink's vectorized results would turn into NULL")
        if f.type.is_array and f.type.value_type.kind is TypeKind.TIMESTAMP:
            return f"output column {f.name!r} is an {f.type.sql()}"
    return ""


@dataclass(frozen=True)
class FeedLayout:
    """The arguments that carry a schema's columns into a vectorized function, in order.

    Per column: its value, then its NULL flag (numeric, BOOLEAN, DATE, TIMESTAMP), or its
    NULL-element flag (ARRAY). `count` gives each column's number of arguments.
    """

    schema: Schema

    def count(self, ft: FieldType) -> int:
        """How many arguments carry a column of type ``ft``."""
        return 2 if ft.kind in _FLAGGED_KINDS or ft.is_array else 1

    def expressions(self, source: str = "") -> list[str]:
        """The argument expressions over the columns (optionally qualified by ``source``)."""
        prefix = f"{source}." if source else ""
        out: list[str] = []
        for f in self.schema:
            c = f"{prefix}{quote_name(f.name, always=True)}"
            typed = f"CAST({c} AS {sql_type(f.type)})"
            if f.type.kind in _FLAGGED_KINDS:
                out += [f"COALESCE({typed}, {_zero(f.type)})", f"{c} IS NULL"]
            elif f.type.is_array:
                element = sql_type(f.type.value_type)
                out += [typed, f"ARRAY_CONTAINS({typed}, CAST(NULL AS {element}))"]
            else:
                out.append(typed)
        return out

    def marker_expressions(self) -> list[str]:
        """Argument values for a row that carries no data (its columns NULL)."""
        out: list[str] = []
        for f in self.schema:
            if f.type.kind in _FLAGGED_KINDS:
                out += [_zero(f.type), "TRUE"]
            elif f.type.is_array:
                out += [f"CAST(NULL AS {sql_type(f.type)})", "CAST(NULL AS BOOLEAN)"]
            else:
                out.append(f"CAST(NULL AS {sql_type(f.type)})")
        return out

    @property
    def width(self) -> int:
        """The number of arguments."""
        return sum(self.count(t) for t in self.schema.types)


def float_result(ft: FieldType) -> bool:
    """Whether a result column needs a NaN flag beside it (FLOAT and DOUBLE)."""
    return ft.kind in _FLOATS


def result_expression(ft: FieldType, value: str, nan_flag: str) -> str:
    """A result column's value, with NaN restored where the flag says so.

    The NaN is parsed from text made from the flag itself: a constant ``CAST('NaN' AS DOUBLE)``
    would be folded by the planner into a literal, which Calcite cannot represent.
    """
    if not float_result(ft):
        return value
    nan = f"CAST(REPLACE(CAST({nan_flag} AS STRING), 'TRUE', 'NaN') AS {ft.sql()})"
    return f"CASE WHEN {nan_flag} THEN {nan} ELSE {value} END"
