"""Rows as columns on the wire: the columnar path's ``ColumnBatch`` (both processes; numpy only).

Each column of a schema travels as raw buffers, never one Python object per value:

========================================  ================================================
column type                               values (numpy dtype of ``ColumnData.values``)
========================================  ================================================
TINYINT, SMALLINT, INT, BIGINT            int64
BOOLEAN                                   bool
FLOAT, DOUBLE, DECIMAL                    float64
DATE                                      int64 days since 1970-01-01
TIMESTAMP                                 int64 milliseconds since 1970-01-01 UTC
STRING, BYTES                             object array of ``bytes`` (UTF-8 for STRING)
ARRAY<T>                                  T's values of every row, flat, plus row offsets
========================================  ================================================

A NULL row has ``nulls[row]`` set; its value (or element range) is a placeholder.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.column_types import FieldType, Schema, TypeKind
from bridge.protos import channel_pb2
from bridge.values import (
    date_to_days,
    datetime_to_millis,
    days_to_date,
    decimal_from_float,
    millis_to_datetime,
)

__all__ = [
    "ColumnData",
    "batch_columns",
    "batch_rows",
    "decode_batch",
    "encode_batch",
    "from_python",
    "is_plain_array",
    "to_python",
    "wire_dtype",
]

_BYTES = "bytes"
_INT_KINDS = {TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INT, TypeKind.BIGINT, TypeKind.DATE,
              TypeKind.TIMESTAMP}
_FLOAT_KINDS = {TypeKind.FLOAT, TypeKind.DOUBLE, TypeKind.DECIMAL}
_PLAIN_KINDS = frozenset({TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INT, TypeKind.BIGINT,
                          TypeKind.FLOAT, TypeKind.DOUBLE, TypeKind.BOOLEAN})
# What a NULL row holds in the buffers (any value of the kind would do).
_PLACEHOLDERS: dict[TypeKind, Any] = {
    **dict.fromkeys(_INT_KINDS, 0), **dict.fromkeys(_FLOAT_KINDS, 0.0),
    TypeKind.STRING: "", TypeKind.BYTES: b"", TypeKind.DATE: _dt.date(1970, 1, 1),
    TypeKind.TIMESTAMP: _dt.datetime(1970, 1, 1), TypeKind.BOOLEAN: False,
}


def wire_dtype(ftype: FieldType) -> np.dtype | None:
    """The numpy dtype of one value of ``ftype`` on the wire; ``None`` for STRING and BYTES."""
    kind = ftype.value_type.kind
    if kind in _INT_KINDS:
        return np.dtype("<i8")
    if kind in _FLOAT_KINDS:
        return np.dtype("<f8")
    if kind is TypeKind.BOOLEAN:
        return np.dtype("|b1")
    return None


@dataclass
class ColumnData:
    """One column of a batch.

    Attributes:
        values: one value per row for scalar columns; for ARRAY columns the elements of every
            row, flat. Fixed-width types as numpy arrays of `wire_dtype`; STRING and BYTES as
            an object array (or list) of ``bytes``.
        nulls: a bool per row, True for NULL; ``None`` when no row is NULL.
        row_offsets: ARRAY columns: int64 offsets of each row's first element, one more than
            the rows; ``None`` for scalar columns.
    """

    values: np.ndarray | Sequence[bytes]
    nulls: np.ndarray | None = None
    row_offsets: np.ndarray | None = None

    def row_values(self, row: int) -> np.ndarray | Sequence[bytes]:
        """The elements of one row of an ARRAY column."""
        assert self.row_offsets is not None
        return self.values[self.row_offsets[row]:self.row_offsets[row + 1]]


def _bytes_buffers(values: Sequence[bytes]) -> tuple[bytes, bytes]:
    lengths = np.fromiter((len(v) for v in values), dtype="<i8", count=len(values))
    offsets = np.zeros(len(values) + 1, dtype="<i8")
    np.cumsum(lengths, out=offsets[1:])
    return b"".join(values), offsets.tobytes()


def encode_batch(schema: Schema, columns: Sequence[ColumnData], num_rows: int
                 ) -> channel_pb2.ColumnBatch:
    """The ``ColumnBatch`` message of ``columns``, in ``schema``'s order."""
    message = channel_pb2.ColumnBatch(num_rows=num_rows)
    for field, data in zip(schema.fields, columns, strict=True):
        column = message.columns.add(name=field.name)
        dtype = wire_dtype(field.type)
        if dtype is None:
            column.dtype = _BYTES
            column.data, column.value_offsets = _bytes_buffers(data.values)
        else:
            column.dtype = dtype.str
            column.data = np.ascontiguousarray(data.values, dtype=dtype).tobytes()
        if data.row_offsets is not None:
            column.row_offsets = np.ascontiguousarray(data.row_offsets, dtype="<i8").tobytes()
        if data.nulls is not None and data.nulls.any():
            column.nulls = np.ascontiguousarray(data.nulls, dtype="|b1").tobytes()
    return message


def _values(column: channel_pb2.Column) -> np.ndarray:
    if column.dtype != _BYTES:
        return np.frombuffer(column.data, dtype=np.dtype(column.dtype))
    offsets = np.frombuffer(column.value_offsets, dtype="<i8")
    data = column.data
    values = np.empty(len(offsets) - 1, dtype=object)
    values[:] = [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    return values


def decode_batch(message: channel_pb2.ColumnBatch) -> tuple[int, list[ColumnData]]:
    """The row count and the columns of a ``ColumnBatch``, in its order (read-only arrays)."""
    columns = []
    for column in message.columns:
        nulls = np.frombuffer(column.nulls, dtype="|b1") if column.nulls else None
        offsets = np.frombuffer(column.row_offsets, dtype="<i8") if column.row_offsets else None
        columns.append(ColumnData(_values(column), nulls, offsets))
    return message.num_rows, columns


# --- Python values (the row path's form) <-> columns ------------------------------------------


def _python_scalars(ftype: FieldType, values: np.ndarray | Sequence[bytes]) -> list[Any]:
    """Wire values of one type as the Python values the row path carries."""
    kind = ftype.kind
    if kind is TypeKind.DECIMAL:  # quantized as the Example decoder does
        convert = decimal_from_float(ftype)
        return [convert(v) for v in values.tolist()]
    if kind is TypeKind.STRING:
        return [v.decode("utf-8") for v in values]
    if kind is TypeKind.BYTES:
        return [bytes(v) for v in values]
    if kind is TypeKind.DATE:
        return [days_to_date(v) for v in values.tolist()]
    if kind is TypeKind.TIMESTAMP:
        return [millis_to_datetime(v) for v in values.tolist()]
    return values.tolist()


def to_python(ftype: FieldType, data: ColumnData, num_rows: int) -> list[Any]:
    """One Python value per row, as the row path would carry it (``None`` for NULL).

    DATE becomes ``datetime.date``, TIMESTAMP a naive UTC ``datetime``, STRING ``str``; an
    ARRAY row becomes a list.
    """
    flat = _python_scalars(ftype.value_type, data.values)
    if data.row_offsets is None:
        values = flat
    else:
        bounds = data.row_offsets.tolist()
        values = [flat[bounds[i]:bounds[i + 1]] for i in range(num_rows)]
    if data.nulls is not None:
        for row in np.flatnonzero(data.nulls).tolist():
            values[row] = None
    return values


def _wire_scalars(kind: TypeKind, values: Sequence[Any]) -> np.ndarray | list[bytes]:
    if kind is TypeKind.STRING:
        return [v.encode("utf-8") for v in values]
    if kind is TypeKind.BYTES:
        return [bytes(v) for v in values]
    if kind is TypeKind.DATE:
        values = [date_to_days(v) for v in values]
    elif kind is TypeKind.TIMESTAMP:
        values = [datetime_to_millis(v) for v in values]
    elif kind is TypeKind.DECIMAL:
        values = [float(v) for v in values]
    return np.asarray(values, dtype=wire_dtype(FieldType(kind)))


def from_python(ftype: FieldType, values: Sequence[Any]) -> ColumnData:
    """A column of Python values (``None`` for NULL), as `to_python` gives them.

    A numpy array of numbers or booleans (no NULLs) is taken as it is.

    Raises:
        ValueRejected: a DATE or TIMESTAMP value is not a date or datetime.
    """
    kind = ftype.value_type.kind
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf" and not ftype.is_array:
        return ColumnData(values.astype(wire_dtype(ftype), copy=False))
    nulls = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    present = values if not nulls.any() else [v for v in values if v is not None]
    if not ftype.is_array:
        filled = list(values)
        if nulls.any():
            placeholder = _PLACEHOLDERS[kind]
            filled = [placeholder if v is None else v for v in values]
        return ColumnData(_wire_scalars(kind, filled), nulls if nulls.any() else None)
    lengths = np.zeros(len(values), dtype="<i8")
    lengths[~nulls] = [len(v) for v in present]
    offsets = np.zeros(len(values) + 1, dtype="<i8")
    np.cumsum(lengths, out=offsets[1:])
    elements = [e for v in present for e in v]
    return ColumnData(_wire_scalars(kind, elements), nulls if nulls.any() else None, offsets)


def is_plain_array(ftype: FieldType, data: ColumnData) -> bool:
    """Whether a column's wire values already are its values.

    True for a scalar number or BOOLEAN column without NULLs; not for DATE, TIMESTAMP or
    DECIMAL, whose Python values differ from their wire values.
    """
    return (
        data.nulls is None
        and data.row_offsets is None
        and ftype.kind in _PLAIN_KINDS
    )


def batch_columns(
    schema: Schema, message: channel_pb2.ColumnBatch, arrays: bool = False
) -> list[Sequence[Any]]:
    """The values of every column of a ``ColumnBatch`` of ``schema``, in its order.

    Args:
        schema: the batch's columns.
        message: the batch.
        arrays: give the numpy array itself for the columns `is_plain_array` accepts (fast
            and equal in value); other columns are lists of Python values.

    Raises:
        ValueError: the batch's columns are not ``schema``'s.
    """
    num_rows, columns = decode_batch(message)
    names = [c.name for c in message.columns]
    if names != schema.names:
        raise ValueError(f"a column batch holds columns {names}, expected {schema.names}")
    return [
        c.values if arrays and is_plain_array(t, c) else to_python(t, c, num_rows)
        for t, c in zip(schema.types, columns, strict=True)
    ]


def batch_rows(schema: Schema, message: channel_pb2.ColumnBatch) -> list[tuple[Any, ...]]:
    """The rows of a ``ColumnBatch`` of ``schema`` as tuples of Python values."""
    columns = batch_columns(schema, message)
    if not columns:
        return [()] * message.num_rows
    return list(zip(*columns, strict=True))
