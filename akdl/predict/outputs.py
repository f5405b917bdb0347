"""Signature output tensors -> row values, one column at a time (numpy only; no TensorFlow).

`output_converter` picks, for an output column and a signature output, the converter that turns
the output's numpy value into one Python value per row:

- `OutputConverter`: a scalar column from ``[batch]`` or ``[batch, 1]``, an ARRAY column from
  ``[batch, k]``;
- a STRING column takes a string tensor of one value per row as text; any other tensor is
  written as text in one of two formats: `AlinkStringOutput` (the default, Alink's own:
  ``"0.1 0.9"``, ``"$2,2$1 0 0 1"``; see `akdl.predict.alink_tensor`) or `JsonStringOutput`
  (``"[0.1, 0.9]"``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from akdl.predict.alink_tensor import format_alink_rows
from akdl.predict.tensors import TensorInfo, is_integer_dtype, is_numeric_dtype, shape_text
from bridge.errors import PredictError
from bridge.schema import FieldType, TypeKind
from bridge.values import (
    INT_RANGES,
    ValueRejected,
    days_to_date,
    decimal_from_float,
    millis_to_datetime,
)

__all__ = ["AlinkStringOutput", "JsonStringOutput", "OutputConverter", "output_converter"]


_PLAIN_OUTPUTS = frozenset({TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INT, TypeKind.BIGINT,
                            TypeKind.FLOAT, TypeKind.DOUBLE, TypeKind.BOOLEAN})


def _pretty_floats(array: np.ndarray) -> np.ndarray:
    """Float16/32 values as the float64 with the shortest text that gives them back."""
    if array.dtype.kind == "f" and array.dtype.itemsize < 8:
        return array.astype(str).astype(np.float64)
    return array


def _decode_nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_nested(v) for v in value]
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _array_dtype(array: np.ndarray) -> str:
    return "string" if array.dtype == object or array.dtype.kind == "S" else array.dtype.name


class OutputConverter:
    """Turns the value of one signature output into one Python value per row of a column.

    Construction checks what the signature declares (dtype, and rank when known); the actual
    shape is checked batch by batch. Use `output_converter` to get the right class.

    Args:
        column: the output column name, for messages.
        ftype: the output column type.
        spec: the signature output.

    Raises:
        PredictError: the output's dtype or rank can never fill the column.
    """

    def __init__(self, column: str, ftype: FieldType, spec: TensorInfo):
        self.column = column
        self.ftype = ftype
        self.spec = spec
        self._is_array = ftype.is_array
        self._element = ftype.value_type
        problem = self._check_dtype(self._element.kind)
        if problem:
            self._fail(spec.describe(), problem)
        if spec.shape is not None:
            self._check_rank(spec.shape, spec.describe())

    def _fail(self, came: str, problem: str) -> NoReturn:
        raise PredictError(f"output column {self.column!r} ({self.ftype}) cannot take signature "
                           f"output {self.spec.name!r} ({came}): {problem}")

    def _check_dtype(self, kind: TypeKind) -> str:
        dtype = self.spec.dtype
        if kind is TypeKind.STRING:
            if self._is_array and not self.spec.is_string:
                return "an ARRAY<STRING> column needs a string tensor"
            return "" if self.spec.is_string or is_numeric_dtype(dtype) else "unsupported dtype"
        if kind is TypeKind.BYTES:
            return "" if self.spec.is_string else "a BYTES column needs a string tensor"
        if not is_numeric_dtype(dtype):
            return f"a {kind.value} column needs a numeric tensor"
        if kind in (TypeKind.DATE, TypeKind.TIMESTAMP) and not is_integer_dtype(dtype):
            return f"a {kind.value} column needs an integer tensor (epoch days / millis)"
        if kind is TypeKind.BOOLEAN and dtype != "bool" and not is_integer_dtype(dtype):
            return "a BOOLEAN column needs a bool or integer (0/1) tensor"
        return ""

    def _check_rank(self, shape: Sequence[int | None], came: str) -> None:
        rank = len(shape)
        if rank == 0:
            self._fail(came, "a scalar output has no entry per input row")
        if self._is_array:
            if rank != 2:
                self._fail(came, "an ARRAY column needs a [batch, k] tensor")
        elif rank > 2 or (rank == 2 and shape[1] not in (1, None)):
            self._fail(came, "a scalar column needs a [batch] or [batch, 1] tensor")

    def to_values(self, array: np.ndarray, batch: int) -> list[Any]:
        """One value per row of the batch.

        Args:
            array: the output's value, e.g. ``tensor.numpy()``; string tensors as bytes.
            batch: the number of input rows.

        Returns:
            ``batch`` Python values of the column's type.

        Raises:
            PredictError: the array does not hold one entry per row in a shape the column
                takes, or a value does not fit the column type.
        """
        array = np.asarray(array)
        came = f"{_array_dtype(array)}{shape_text(array.shape)}"
        if array.ndim == 0 or array.shape[0] != batch:
            self._fail(came, f"expected one entry per input row ({batch}) along the first axis")
        self._check_rank(array.shape, came)
        return self._values(array, batch, came)

    def to_column(self, array: np.ndarray, batch: int) -> np.ndarray | list[Any]:
        """The column's values for the batch, as a column.

        Scalar numbers and booleans come as a numpy array, equal in value to `to_values` but
        without a Python object per row; other columns as a list.

        Raises:
            PredictError: as for `to_values`.
        """
        array = np.asarray(array)
        kind = self._element.kind
        if self._is_array or kind not in _PLAIN_OUTPUTS or array.dtype.kind not in "biuf":
            return self.to_values(array, batch)
        came = f"{_array_dtype(array)}{shape_text(array.shape)}"
        if array.ndim == 0 or array.shape[0] != batch:
            self._fail(came, f"expected one entry per input row ({batch}) along the first axis")
        self._check_rank(array.shape, came)
        flat = array.reshape(-1)
        if kind in (TypeKind.FLOAT, TypeKind.DOUBLE):
            return flat.astype(np.float64)
        if kind is TypeKind.BOOLEAN:
            if flat.dtype.kind != "b" and flat.size and not np.isin(flat, (0, 1)).all():
                bad = flat[~np.isin(flat, (0, 1))][0]
                self._fail(came, f"the value {bad.item()!r} is not 0 or 1")
            return flat.astype(bool)
        if flat.dtype.kind == "f":
            whole = np.isfinite(flat) & (np.floor(flat) == flat)
            if not whole.all():
                self._fail(came, f"the value {flat[~whole][0].item()!r} is not a whole number")
        low, high = INT_RANGES[kind]
        if flat.size and (flat.min() < low or flat.max() > high):
            bad = flat.min() if flat.min() < low else flat.max()
            self._fail(came, f"the value {int(bad)} is out of range for {kind.value}")
        return flat.astype(np.int64)

    def _values(self, array: np.ndarray, batch: int, came: str) -> list[Any]:
        values = self._elements(array.reshape(-1), came)
        if not self._is_array:
            return values
        width = array.shape[1]
        return [values[i * width:(i + 1) * width] for i in range(batch)]

    def _elements(self, flat: np.ndarray, came: str) -> list[Any]:
        kind = self._element.kind
        if kind is TypeKind.STRING:
            try:
                return [v.decode("utf-8") for v in flat.tolist()]
            except UnicodeDecodeError as exc:
                self._fail(came, f"a value is not valid UTF-8 ({exc})")
        if kind is TypeKind.BYTES:
            return [bytes(v) for v in flat.tolist()]
        if kind in (TypeKind.FLOAT, TypeKind.DOUBLE):
            return flat.astype(np.float64).tolist()
        if kind is TypeKind.DECIMAL:
            return self._converted(flat.astype(np.float64).tolist(), decimal_from_float(
                self._element), came)
        if kind is TypeKind.BOOLEAN:
            if flat.dtype.kind != "b" and flat.size and not np.isin(flat, (0, 1)).all():
                bad = flat[~np.isin(flat, (0, 1))][0]
                self._fail(came, f"the value {bad.item()!r} is not 0 or 1")
            return flat.astype(bool).tolist()
        ints = self._whole_numbers(flat, came)
        if kind is TypeKind.DATE:
            return self._converted(ints, days_to_date, came)
        if kind is TypeKind.TIMESTAMP:
            return self._converted(ints, millis_to_datetime, came)
        low, high = INT_RANGES[kind]
        for v in ints:
            if not low <= v <= high:
                self._fail(came, f"the value {v} is out of range for {kind.value}")
        return ints

    def _converted(self, values: list[Any], convert: Any, came: str) -> list[Any]:
        try:
            return [convert(v) for v in values]
        except ValueRejected as e:
            self._fail(came, f"the value {e.got}")

    def _whole_numbers(self, flat: np.ndarray, came: str) -> list[int]:
        if flat.dtype.kind == "f":
            whole = np.isfinite(flat) & (np.floor(flat) == flat)
            if not whole.all():
                self._fail(came, f"the value {flat[~whole][0].item()!r} is not a whole number")
        return [int(v) for v in flat.tolist()]


class _StringOutput(OutputConverter):
    """A STRING column: string tensors of one value per row as text, others in a text format."""

    def _check_rank(self, shape: Sequence[int | None], came: str) -> None:
        if len(shape) == 0:
            self._fail(came, "a scalar output has no entry per input row")

    def _values(self, array: np.ndarray, batch: int, came: str) -> list[Any]:
        one_per_row = array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)
        if _array_dtype(array) == "string" and one_per_row:
            return super()._values(array, batch, came)
        return self._texts(array)

    def _texts(self, array: np.ndarray) -> list[str]:
        raise NotImplementedError


class AlinkStringOutput(_StringOutput):
    """Tensors as Alink writes them: ``"0.1 0.9"``, ``"$2,2$1 0 0 1"`` (the default)."""

    def _texts(self, array: np.ndarray) -> list[str]:
        return format_alink_rows(array)


class JsonStringOutput(_StringOutput):
    """Tensors as JSON: ``"0.5"``, ``"[0.1, 0.9]"`` (``tensorStringFormat="json"``)."""

    def _texts(self, array: np.ndarray) -> list[str]:
        rows = _pretty_floats(array).tolist()
        return [json.dumps(_decode_nested(r), ensure_ascii=False) for r in rows]


_STRING_OUTPUTS = {"alink": AlinkStringOutput, "json": JsonStringOutput}


def output_converter(
    column: str, ftype: FieldType, spec: TensorInfo, tensor_format: str = "alink"
) -> OutputConverter:
    """The converter filling output column ``column`` from signature output ``spec``.

    Args:
        column: the output column's name.
        ftype: its type.
        spec: the signature output.
        tensor_format: how a STRING column writes a tensor: ``"alink"`` or ``"json"``.

    Raises:
        PredictError: the output's dtype or rank can never fill the column.
    """
    if ftype.kind is TypeKind.STRING:
        return _STRING_OUTPUTS[tensor_format](column, ftype, spec)
    return OutputConverter(column, ftype, spec)
