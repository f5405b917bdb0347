"""pandas Series from PyFlink's vectorized functions <-> wire columns (Flink Python worker).

PyFlink hands a vectorized function each argument as a ``pandas.Series`` made from an Arrow
batch, and takes its result the same way. Two PyFlink conversions lose information, so the SQL
that feeds the function works around them (`operators._columnar_sql`):

* a nullable numeric column arrives as float64 with NaN for NULL (BIGINT loses precision, and a
  NULL cannot be told from NaN): numeric, BOOLEAN, DATE and TIMESTAMP columns are fed as
  ``COALESCE(c, 0)`` plus a ``c IS NULL`` flag column;
* a result's NaN becomes NULL (PyFlink masks with ``isnull()``): FLOAT and DOUBLE results go
  back with a flag of their NaN rows, which the SQL turns into NaN again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bridge.column_batch import ColumnData, to_python, wire_dtype
from bridge.column_types import FieldType, TypeKind
from bridge.errors import SchemaMismatchError

__all__ = [
    "FLOAT_KINDS",
    "column_from_series",
    "nan_flags",
    "series_from_column",
    "series_from_values",
]

FLOAT_KINDS = frozenset({TypeKind.FLOAT, TypeKind.DOUBLE})
_TEXT_KINDS = frozenset({TypeKind.STRING, TypeKind.BYTES})


def _text(kind: TypeKind, values: Any) -> list[bytes]:
    if kind is TypeKind.STRING:
        return [v.encode("utf-8") for v in values]
    return [bytes(v) for v in values]


def _scalars(kind: TypeKind, series: pd.Series) -> np.ndarray:
    """The wire values of a scalar column fed without NULLs (``COALESCE``-d)."""
    if kind is TypeKind.DATE:
        return np.asarray(series.to_numpy(), dtype="datetime64[D]").astype("<i8")
    if kind is TypeKind.TIMESTAMP:
        nanos = np.asarray(series.to_numpy(), dtype="datetime64[ns]").astype("<i8")
        return nanos // 1_000_000  # floor, as the row path's epoch millis
    return series.to_numpy(dtype=wire_dtype(FieldType(kind)))


def _elements(kind: TypeKind, rows: list[Any]) -> np.ndarray | list[bytes]:
    if kind in _TEXT_KINDS:
        return _text(kind, (e for row in rows for e in row))
    if not rows:
        return np.zeros(0, dtype=wire_dtype(FieldType(kind)))
    if kind in (TypeKind.DATE, TypeKind.TIMESTAMP):
        return _scalars(kind, pd.Series(np.concatenate(rows)))
    return np.concatenate(rows).astype(wire_dtype(FieldType(kind)))


def column_from_series(
    column: str,
    ftype: FieldType,
    values: pd.Series,
    null_flags: pd.Series | None = None,
    element_null_flags: pd.Series | None = None,
) -> ColumnData:
    """The wire column of one input column.

    Args:
        column: the column's name, for messages.
        ftype: its type.
        values: the values; ``COALESCE``-d for the scalar kinds with a NULL flag.
        null_flags: ``c IS NULL`` for those kinds; ``None`` for STRING, BYTES and ARRAY, whose
            NULLs arrive as ``None``.
        element_null_flags: ARRAY columns: whether a row's array holds a NULL element.

    Raises:
        SchemaMismatchError: an array holds a NULL element (which no Example can carry).
    """
    kind = ftype.value_type.kind
    if null_flags is not None:
        nulls = null_flags.to_numpy(dtype=bool)
        return ColumnData(_scalars(kind, values), nulls if nulls.any() else None)
    objects = values.to_numpy(dtype=object)
    nulls = pd.isna(values).to_numpy(dtype=bool)
    present = objects[~nulls] if nulls.any() else objects
    if not ftype.is_array:
        data = np.empty(len(objects), dtype=object)
        data[:] = b""
        data[~nulls] = _text(kind, present)
        return ColumnData(data, nulls if nulls.any() else None)
    if element_null_flags is not None:
        flagged = element_null_flags.to_numpy(dtype=object)
        bad = [i for i, flag in enumerate(flagged) if flag is True]
        if bad:
            raise SchemaMismatchError(
                column, ftype.sql(), "a list with a NULL element (array elements cannot be NULL)",
                f"row {bad[0]} of a batch",
            )
    lengths = np.zeros(len(objects), dtype="<i8")
    lengths[~nulls] = [len(v) for v in present]
    offsets = np.zeros(len(objects) + 1, dtype="<i8")
    np.cumsum(lengths, out=offsets[1:])
    return ColumnData(_elements(kind, list(present)), nulls if nulls.any() else None, offsets)


def series_from_values(ftype: FieldType, values: Any) -> pd.Series:
    """A result Series PyFlink converts exactly: numpy dtypes without NULLs, else objects.

    ``values`` is a list of Python values, or a numpy array of numbers or booleans. FLOAT and
    DOUBLE NaNs still become NULL in PyFlink; callers send their flags (`nan_flags`) beside.
    """
    kind = ftype.kind
    if isinstance(values, np.ndarray):
        return pd.Series(values)
    if any(v is None for v in values):
        return pd.Series(values, dtype=object)
    if kind in FLOAT_KINDS:
        return pd.Series(np.asarray(values, dtype=np.float64))
    if kind in (TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INT, TypeKind.BIGINT):
        return pd.Series(np.asarray(values, dtype=np.int64))
    if kind is TypeKind.BOOLEAN:
        return pd.Series(np.asarray(values, dtype=bool))
    return pd.Series(values, dtype=object)


def series_from_column(ftype: FieldType, data: ColumnData, num_rows: int) -> pd.Series:
    """A result Series for one wire column (see `series_from_values`)."""
    return series_from_values(ftype, to_python(ftype, data, num_rows))


def nan_flags(values: Any) -> pd.Series:
    """Which values are NaN floats, as a bool Series (sent beside FLOAT and DOUBLE results)."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return pd.Series(np.isnan(values))
    return pd.Series([isinstance(v, float) and v != v for v in values], dtype=bool)
