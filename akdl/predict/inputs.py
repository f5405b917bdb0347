"""Row values -> signature input tensors, one column at a time (numpy only; no TensorFlow).

`input_converter` picks, for a column and a signature input, the converter that turns a batch
of the column's values into the input's numpy array:

- `NumberInput`: a scalar column (numbers, BOOLEAN, DATE as epoch days, TIMESTAMP as epoch
  millis) gives ``[batch]``, or ``[batch, 1]`` when the input has rank 2; an
  ``ARRAY<numeric>`` column gives ``[batch, k]`` (every row of the batch must hold ``k``
  values), and an input of higher rank with known dimensions gets each row reshaped to them;
- `TextInput`: STRING and BYTES columns (and arrays of them) feed string inputs as bytes;
- `AlinkTensorInput`: a STRING column feeding a numeric input holds Alink tensor strings
  (`akdl.predict.alink_tensor`); each row is reshaped to its shape.

Values are cast to the input's dtype. What cannot be fed (a NULL, a wrong type, rows of
different lengths, a shape the input cannot take) raises `PredictError` naming the column, the
row, the signature input with its spec, and what came.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from akdl.predict.alink_tensor import parse_alink_tensor
from akdl.predict.tensors import NUMPY_DTYPES, TensorInfo, shape_text
from bridge.errors import PredictError
from bridge.schema import FieldType, TypeKind
from bridge.values import ValueRejected, date_to_days, datetime_to_millis, describe_value

__all__ = ["AlinkTensorInput", "InputConverter", "NumberInput", "TextInput", "input_converter"]

_FLOAT_KINDS = frozenset({TypeKind.FLOAT, TypeKind.DOUBLE, TypeKind.DECIMAL})
_NUMERIC_KINDS = frozenset(
    {TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INT, TypeKind.BIGINT, TypeKind.BOOLEAN,
     TypeKind.DATE, TypeKind.TIMESTAMP} | _FLOAT_KINDS
)
_TEXT_KINDS = frozenset({TypeKind.STRING, TypeKind.BYTES})
_CONVERSION_ERRORS = (TypeError, ValueError, OverflowError, decimal.InvalidOperation)


def _describe(value: Any) -> str:
    return describe_value(value, limit=60)


def _strict(convert: Callable[[Any], int], expected: str) -> Callable[[Any], int]:
    """A value rule of `bridge.values` whose rejection reads as a type error here."""

    def run(value: Any) -> int:
        try:
            return convert(value)
        except ValueRejected as e:
            raise TypeError(f"expected a {expected}, got {e.got}") from None

    return run


def _element_scalar(kind: TypeKind) -> Callable[[Any], Any] | None:
    """How one value of a numeric column kind becomes a number; ``None``: numpy takes it."""
    if kind is TypeKind.DATE:
        return _strict(date_to_days, "datetime.date")
    if kind is TypeKind.TIMESTAMP:
        return _strict(datetime_to_millis, "datetime.datetime")
    if kind is TypeKind.DECIMAL:
        return float
    return None


def _natural_dtype(kind: TypeKind) -> np.dtype:
    """The numpy dtype a column kind's values are first gathered in."""
    if kind in _FLOAT_KINDS:
        return np.dtype(np.float64)
    if kind is TypeKind.BOOLEAN:
        return np.dtype(np.bool_)
    return np.dtype(np.int64)


class InputConverter:
    """Turns a batch of one column's values into the array for one signature input.

    Construction checks everything that does not depend on the data, so a column that can
    never feed the input fails before any row is read. Use `input_converter` to get the right
    subclass.

    Args:
        column: the column name, for messages.
        ftype: the column type.
        spec: the signature input.

    Raises:
        PredictError: the column's type or shape can never feed the input.
    """

    def __init__(self, column: str, ftype: FieldType, spec: TensorInfo):
        self.column = column
        self.ftype = ftype
        self.spec = spec
        self._is_array = ftype.is_array
        self._element = ftype.value_type
        if spec.rank == 0:
            self._fail_static("a rank-0 (scalar) input cannot take a batch of rows")
        self._dtype = None if spec.is_string else NUMPY_DTYPES.get(spec.dtype)

    # -- messages --

    def _where(self) -> str:
        return (f"column {self.column!r} ({self.ftype}) cannot feed signature input "
                f"{self.spec.name!r} {self.spec.describe()}")

    def _fail_static(self, problem: str) -> NoReturn:
        raise PredictError(f"{self._where()}: {problem}")

    def _fail_row(self, row: int, problem: str) -> NoReturn:
        raise PredictError(f"{self._where()}: row {row} of the batch: {problem}")

    # -- conversion --

    def to_array(self, values: Sequence[Any]) -> np.ndarray:
        """The input array for one batch.

        Args:
            values: the column's value in each row of the batch, in order.

        Returns:
            A numpy array of the input's dtype (an object array of bytes for string inputs) and
            a shape the input accepts, with one entry per row along the first axis.

        Raises:
            PredictError: a value is NULL or of the wrong type, rows disagree in length or
                shape, or the result does not fit the input's shape.
        """
        if not (isinstance(values, np.ndarray) and values.dtype.kind in "biuf"):
            for row, value in enumerate(values):  # a numeric array holds no NULL
                if value is None:
                    self._fail_row(row, "the value is NULL; prediction inputs cannot be NULL")
        return self._fit(self._array(values))

    def _array(self, values: Sequence[Any]) -> np.ndarray:
        """The batch as an array of one entry per row, before fitting the input's shape."""
        raise NotImplementedError

    def _rows_as_lists(self, values: Sequence[Any]) -> list[Sequence[Any]]:
        rows = []
        for row, value in enumerate(values):
            if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
                self._fail_row(row, f"expected a list, got {_describe(value)}")
            for i, element in enumerate(value):
                if element is None:
                    self._fail_row(row, f"the array holds NULL at index {i}")
            rows.append(value)
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            first = len(rows[0])
            other = next(i for i, r in enumerate(rows) if len(r) != first)
            self._fail_row(other, f"it holds {len(rows[other])} values but row 0 holds {first}; "
                                  "all rows of a batch must have the same length")
        return rows

    # -- shapes --

    def _fit(self, array: np.ndarray) -> np.ndarray:
        target = self._fit_shape(tuple(array.shape[1:]), len(array))
        return array if target is None else array.reshape(target)

    def _fit_shape(self, row_shape: tuple[int, ...], batch: int | None) -> tuple[int, ...] | None:
        """The shape to reshape a ``[batch, *row_shape]`` array to; ``None``: keep it as is."""
        shape = self.spec.shape
        if shape is None:
            return None
        if batch is not None and shape[0] is not None and shape[0] != batch:
            raise PredictError(
                f"{self._where()}: the input has a fixed batch dimension of {shape[0]} but the "
                f"batch holds {batch} rows; set the batch size to {shape[0]}"
            )
        n = -1 if batch is None else batch
        inner = shape[1:]
        if len(inner) == len(row_shape) and all(d is None or d == r
                                                for d, r in zip(inner, row_shape)):
            return None
        known = [d for d in inner if d is not None]
        if len(known) == len(inner) and math.prod(known) == math.prod(row_shape):
            return (n, *known)
        if row_shape == () and inner == (None,):
            return (n, 1)
        came = ("one value per row, shape [batch]" if row_shape == ()
                else f"rows of shape {shape_text(row_shape)}, "
                     f"shape {shape_text((None, *row_shape))}")
        raise PredictError(f"{self._where()}: it gives {came}")


class TextInput(InputConverter):
    """STRING or BYTES columns (or arrays of them) feeding a string input, as bytes."""

    def _array(self, values: Sequence[Any]) -> np.ndarray:
        def to_bytes(row: int, value: Any) -> bytes:
            if isinstance(value, str):
                return value.encode("utf-8")
            if isinstance(value, bytes | bytearray | memoryview):
                return bytes(value)
            self._fail_row(row, f"expected a string, got {_describe(value)}")

        if self._is_array:
            rows = self._rows_as_lists(values)
            array = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
            for r, items in enumerate(rows):
                array[r, :] = [to_bytes(r, v) for v in items]
            return array
        array = np.empty(len(values), dtype=object)
        array[:] = [to_bytes(r, v) for r, v in enumerate(values)]
        return array


class NumberInput(InputConverter):
    """Numeric, BOOLEAN, DATE or TIMESTAMP columns (or arrays of them) feeding a numeric input."""

    def __init__(self, column: str, ftype: FieldType, spec: TensorInfo):
        super().__init__(column, ftype, spec)
        if self._is_array:
            if spec.rank == 1:
                self._fail_static("an ARRAY column gives [batch, k]; the input takes one value "
                                  "per row")
            if spec.shape is not None and spec.rank and spec.rank > 2 and None in spec.shape[1:]:
                self._fail_static("an ARRAY row can only be reshaped to fully known dimensions")
        else:
            self._fit_shape((), None)  # a scalar per row: the shape is known now

    def _array(self, values: Sequence[Any]) -> np.ndarray:
        if not self._is_array:
            if not isinstance(values, np.ndarray):
                values = list(values)
            return self._cast(self._numbers(values, lambda i: i))
        rows = self._rows_as_lists(values)
        width = len(rows[0]) if rows else 0
        flat = [v for r in rows for v in r]
        array = self._numbers(flat, lambda i: i // max(width, 1))
        return self._cast(array.reshape(len(rows), width))

    def _numbers(self, values: Sequence[Any], row_of: Callable[[int], int]) -> np.ndarray:
        """Flat values -> natural numpy array; a failure names the row holding the culprit."""
        convert = _element_scalar(self._element.kind)
        natural = _natural_dtype(self._element.kind)
        if isinstance(values, np.ndarray) and values.dtype.kind in "biuf" and convert is None:
            if natural.kind != "b" or values.dtype.kind == "b":
                return values.astype(natural, copy=False)
        if natural.kind == "b":
            for i, v in enumerate(values):
                if not isinstance(v, bool | np.bool_) and v not in (0, 1):
                    self._fail_row(row_of(i), f"{_describe(v)} is not a BOOLEAN")
        try:
            converted = values if convert is None else [convert(v) for v in values]
            return np.asarray(converted, dtype=natural)
        except _CONVERSION_ERRORS as exc:
            failure = exc
        for i, v in enumerate(values):  # find the culprit for the message
            try:
                np.asarray([v if convert is None else convert(v)], dtype=natural)
            except _CONVERSION_ERRORS as exc:
                self._fail_row(row_of(i), f"{_describe(v)} is not a {self._element} value ({exc})")
        raise PredictError(f"{self._where()}: the values are not {self._element} values "
                           f"({failure})")

    def _cast(self, array: np.ndarray) -> np.ndarray:
        assert self._dtype is not None
        target = self._dtype
        if target.kind in "iu" and array.size and array.dtype.kind in "iuf":
            info = np.iinfo(target)
            low, high = array.min(), array.max()
            if not (info.min <= low and high <= info.max):
                bad = low if not info.min <= low else high
                raise PredictError(f"{self._where()}: the value {bad.item()!r} is out of range for "
                                   f"{self.spec.dtype}")
        with np.errstate(over="ignore", invalid="ignore"):
            return array.astype(target, copy=False)


class AlinkTensorInput(InputConverter):
    """A STRING column of Alink tensor strings feeding a numeric input."""

    def _array(self, values: Sequence[Any]) -> np.ndarray:
        assert self._dtype is not None
        parsed = []
        for row, value in enumerate(values):
            if not isinstance(value, str):
                self._fail_row(row, f"expected an Alink tensor string, got {_describe(value)}")
            try:
                tensor = parse_alink_tensor(value, self._dtype)
            except (ValueError, OverflowError) as exc:
                shown = value if len(value) <= 60 else value[:57] + "..."
                self._fail_row(row, f"{shown!r} is not an Alink tensor string ({exc})")
            try:  # reshape each row on its own, so rows with and without a prefix mix
                target = self._fit_shape(tensor.shape, None)
            except PredictError:
                assert self.spec.shape is not None  # _fit_shape fails only for known shapes
                self._fail_row(row, f"its tensor has shape {shape_text(tensor.shape)}, but the "
                                    f"input takes rows of shape {shape_text(self.spec.shape[1:])}")
            parsed.append(tensor if target is None else tensor.reshape(target[1:]))
        if not parsed:
            return np.zeros((0,), dtype=self._dtype)
        shapes = {p.shape for p in parsed}
        if len(shapes) > 1:
            other = next(i for i, p in enumerate(parsed) if p.shape != parsed[0].shape)
            self._fail_row(other, f"its tensor has shape {shape_text(parsed[other].shape)} but "
                                  f"row 0's has {shape_text(parsed[0].shape)}; all rows of a "
                                  "batch must have the same shape")
        return np.stack(parsed)


def input_converter(column: str, ftype: FieldType, spec: TensorInfo) -> InputConverter:
    """The converter for ``column`` feeding signature input ``spec``.

    Raises:
        PredictError: the column's type or shape can never feed the input.
    """
    element = ftype.value_type
    where = InputConverter(column, ftype, spec)  # the common checks, and the message prefix
    if spec.is_string:
        if element.kind not in _TEXT_KINDS:
            where._fail_static("only STRING or BYTES columns (or arrays of them) feed a string "
                               "input")
        return TextInput(column, ftype, spec)
    if spec.dtype not in NUMPY_DTYPES:
        where._fail_static(f"akdl cannot feed inputs of dtype {spec.dtype}")
    if element.kind in _NUMERIC_KINDS:
        return NumberInput(column, ftype, spec)
    if element.kind is TypeKind.STRING and not ftype.is_array:
        return AlinkTensorInput(column, ftype, spec)
    where._fail_static(f"a {ftype} column cannot feed a numeric input (a STRING column can, "
                       "holding Alink tensor strings such as '$2,3$1 2 3 4 5 6')")
