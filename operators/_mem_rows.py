"""The rows of a ``MemSource`` op, checked against its schema (runs in the Flink driver).

Each value becomes what PyFlink's ``from_elements`` accepts for its column type; a value that
does not fit fails before any job runs, naming the operator, row and column.
"""

from __future__ import annotations

import datetime
import decimal
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pyflink.common import Row

from bridge.errors import ParamError, SchemaMismatchError
from bridge.schema import FieldType, Schema, TypeKind
from bridge.values import describe_value

__all__ = ["coerce_rows", "rows_of"]


def _fail(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _to_int(value: Any) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return _fail(value)


def _to_bool(value: Any) -> bool:
    if type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    return _fail(value)


def _to_float(value: Any) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return _fail(value)


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, numbers.Real | str) and not isinstance(value, bool):
        try:
            return decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            pass
    return _fail(value)


def _to_str(value: Any) -> str:
    return value if isinstance(value, str) else _fail(value)


def _to_bytes(value: Any) -> bytearray:
    # PyFlink's from_elements accepts only bytearray for BYTES, not bytes.
    if isinstance(value, bytes | bytearray | memoryview):
        return bytearray(value)
    return _fail(value)


def _to_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        return datetime.date.fromisoformat(value)
    return _fail(value)


def _to_timestamp(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    return _fail(value)


_SCALAR_COERCIONS: dict[TypeKind, Callable[[Any], Any]] = {
    TypeKind.TINYINT: _to_int,
    TypeKind.SMALLINT: _to_int,
    TypeKind.INT: _to_int,
    TypeKind.BIGINT: _to_int,
    TypeKind.BOOLEAN: _to_bool,
    TypeKind.FLOAT: _to_float,
    TypeKind.DOUBLE: _to_float,
    TypeKind.DECIMAL: _to_decimal,
    TypeKind.STRING: _to_str,
    TypeKind.BYTES: _to_bytes,
    TypeKind.DATE: _to_date,
    TypeKind.TIMESTAMP: _to_timestamp,
}


def _coerce(ft: FieldType, value: Any) -> Any:
    """Turns a Python value into what PyFlink's ``from_elements`` accepts for ``ft``."""
    if value is None:
        return None
    if ft.kind is TypeKind.ARRAY:
        assert ft.element is not None  # guaranteed by FieldType
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            return _fail(value)
        return [_coerce(ft.element, v) for v in value]
    return _SCALAR_COERCIONS[ft.kind](value)


def rows_of(rows: Any) -> list[Any]:
    """Lists the rows of a list, a tuple or a pandas DataFrame."""
    if hasattr(rows, "itertuples") and hasattr(rows, "columns"):  # a pandas DataFrame
        return [tuple(r) for r in rows.itertuples(index=False, name=None)]
    if isinstance(rows, str | bytes) or not isinstance(rows, Iterable):
        raise TypeError(f"must be a list of rows or a pandas DataFrame, got {type(rows).__name__}")
    return list(rows)


def coerce_rows(operator: str, schema: Schema, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    out = []
    width = len(schema)
    for i, row in enumerate(rows):
        if isinstance(row, Row | list | tuple):
            values = tuple(row)
        elif width == 1:
            values = (row,)
        else:
            raise ParamError(
                operator, "rows", f"row {i} must be a tuple or list, got {type(row).__name__}"
            )
        if len(values) != width:
            raise ParamError(
                operator, "rows", f"row {i} has {len(values)} values but the schema has {width}"
            )
        coerced = []
        for field, value in zip(schema.fields, values):
            try:
                coerced.append(_coerce(field.type, value))
            except (TypeError, ValueError):
                got = describe_value(value)
                raise SchemaMismatchError(
                    field.name, field.type.sql(), got, f"{operator} row {i}"
                ) from None
        out.append(tuple(coerced))
    return out
