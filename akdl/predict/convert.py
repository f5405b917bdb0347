"""Row values <-> signature tensors, one column at a time (numpy only; never imports TensorFlow).

Inputs: an `InputConverter` turns a batch of one column's values into the numpy array that feeds
one signature input:

- a scalar column (numbers, BOOLEAN, DATE as epoch days, TIMESTAMP as epoch millis) gives
  ``[batch]``, or ``[batch, 1]`` when the input has rank 2;
- an ``ARRAY<numeric>`` column gives ``[batch, k]`` (every row of the batch must hold ``k``
  values); an input of higher rank with known dimensions gets each row reshaped to them;
- STRING and BYTES columns (and arrays of them) feed string inputs as bytes;
- a STRING column feeding a numeric input holds Alink tensor strings: numbers separated by
  spaces or commas, optionally prefixed by a shape, e.g. ``"$2,3$1 2 3 4 5 6"`` for a 2x3 tensor,
  or a sparse vector ``"$5$0:1.5 3:2"``. Each row is reshaped to its shape.

Values are cast to the input's dtype. What cannot be fed (a NULL, a wrong type, rows of
different lengths, a shape the input cannot take) raises `PredictError` naming the column, the
row, the signature input with its spec, and what came.

Outputs: an `OutputConverter` turns the numpy value of one signature output into one Python
value per row for a column of the output schema: a scalar column from ``[batch]`` or
``[batch, 1]``, an ARRAY column from ``[batch, k]``, a STRING column from a string tensor or,
for a numeric tensor, a JSON encoding of the row (``"0.5"``, ``"[0.1, 0.9]"``).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from bridge.errors import PredictError
from bridge.schema import FieldType, TypeKind

__all__ = ["InputConverter", "OutputConverter", "TensorInfo", "parse_alink_tensor"]

_INT_KINDS = frozenset({TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INT, TypeKind.BIGINT})
_FLOAT_KINDS = frozenset({TypeKind.FLOAT, TypeKind.DOUBLE, TypeKind.DECIMAL})
_NUMERIC_KINDS = _INT_KINDS | _FLOAT_KINDS | {TypeKind.BOOLEAN, TypeKind.DATE, TypeKind.TIMESTAMP}
_TEXT_KINDS = frozenset({TypeKind.STRING, TypeKind.BYTES})
_INT_RANGES = {
    TypeKind.TINYINT: (-(2**7), 2**7 - 1),
    TypeKind.SMALLINT: (-(2**15), 2**15 - 1),
    TypeKind.INT: (-(2**31), 2**31 - 1),
    TypeKind.BIGINT: (-(2**63), 2**63 - 1),
}
# TensorFlow dtype name -> the numpy dtype akdl builds; TF casts bfloat16 from float32 itself.
_NUMPY_DTYPES = {
    "bool": np.dtype(np.bool_),
    "int8": np.dtype(np.int8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16),
    "uint32": np.dtype(np.uint32),
    "uint64": np.dtype(np.uint64),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(np.float32),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
}
_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_ALINK_PREFIX = re.compile(r"\s*\$([^$]*)\$(.*)", re.DOTALL)
_ALINK_SEPARATORS = re.compile(r"[\s,]+")
_DECIMAL_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)


@dataclass(frozen=True)
class TensorInfo:
    """What a signature declares about one of its input or output tensors.

    Attributes:
        name: the tensor's key in the signature.
        dtype: the TensorFlow dtype name, e.g. ``"float32"``, ``"int64"``, ``"string"``.
        shape: the static shape with ``None`` for unknown dimensions; ``None`` when even the
            rank is unknown.
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None

    @property
    def rank(self) -> int | None:
        """The number of dimensions, or ``None`` when unknown."""
        return None if self.shape is None else len(self.shape)

    @property
    def is_string(self) -> bool:
        """Whether the tensor holds strings (bytes)."""
        return self.dtype == "string"

    def describe(self) -> str:
        """The spec as text, e.g. ``"float32[?, 3]"``; ``"float32[*]"`` for unknown rank."""
        if self.shape is None:
            return f"{self.dtype}[*]"
        return f"{self.dtype}[{', '.join('?' if d is None else str(d) for d in self.shape)}]"

    def __str__(self) -> str:
        return f"{self.name!r} {self.describe()}"


def _shape_text(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _describe_value(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def parse_alink_tensor(text: str, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Parses one Alink tensor or vector string into a numpy array.

    Accepted forms: ``"1 2 3"`` (a flat vector; commas also separate), ``"$2,3$1 2 3 4 5 6"``
    (a tensor of shape ``[2, 3]``, row-major), ``"$5$0:1.5 3:2"`` (a sparse vector of size 5)
    and ``"$$7"`` (a scalar, shape ``[]``).

    Args:
        text: the string.
        dtype: the numpy dtype of the result.

    Returns:
        The array, shaped as the prefix says (flat when there is none).

    Raises:
        ValueError: the text is not such a string; the message says what is wrong.
    """
    match = _ALINK_PREFIX.fullmatch(text)
    body = match.group(2) if match else text
    shape: tuple[int, ...] | None = None
    if match:
        prefix = match.group(1)
        dims = [d.strip() for d in prefix.split(",")] if prefix.strip() else []
        if not all(d.isdigit() for d in dims):
            raise ValueError(f"the shape prefix ${prefix}$ is not comma-separated sizes")
        shape = tuple(int(d) for d in dims)
    tokens = [t for t in _ALINK_SEPARATORS.split(body.strip()) if t]
    target = np.dtype(dtype)
    if tokens and ":" in tokens[0]:
        if shape is None or len(shape) != 1:
            raise ValueError("a sparse vector 'i:v ...' needs its size as a prefix, e.g. '$5$0:1'")
        values = np.zeros(shape, dtype=target)
        for token in tokens:
            index_text, _, value_text = token.partition(":")
            index = int(index_text)
            if not 0 <= index < shape[0]:
                raise ValueError(f"sparse index {index} is outside the size {shape[0]}")
            values[index] = _parse_numbers([value_text], target)[0]
        return values
    values = _parse_numbers(tokens, target)
    if shape is None:
        return values
    if math.prod(shape) != values.size:
        raise ValueError(f"the shape {_shape_text(shape)} needs {math.prod(shape)} values, "
                         f"got {values.size}")
    return values.reshape(shape)


def _parse_numbers(tokens: list[str], dtype: np.dtype) -> np.ndarray:
    strings = np.array(tokens, dtype=str)
    if dtype.kind in "iu":
        try:
            return strings.astype(np.int64).astype(dtype)
        except (ValueError, OverflowError):
            pass  # e.g. "1.0": parse as floats and cast, as TensorFlow would
    if dtype.kind == "b":
        return strings.astype(np.float64) != 0
    return strings.astype(np.float64).astype(dtype)


# --- inputs ---------------------------------------------------------------------------------


def _date_to_days(value: Any) -> int:
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value.toordinal() - _EPOCH_ORDINAL
    raise TypeError(f"expected a datetime.date, got {_describe_value(value)}")


def _datetime_to_millis(value: Any) -> int:
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"expected a datetime.datetime, got {_describe_value(value)}")
    if value.utcoffset() is None:  # naive: taken as UTC, as the Flink path does
        delta = value.replace(tzinfo=None) - _EPOCH
    else:
        delta = value - _EPOCH_UTC
    # timedelta keeps 0 <= seconds < 86400 and 0 <= microseconds < 10**6, so this floors.
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _element_scalar(kind: TypeKind) -> Callable[[Any], Any] | None:
    """How one value of a numeric column kind becomes a number; ``None``: numpy takes it."""
    if kind is TypeKind.DATE:
        return _date_to_days
    if kind is TypeKind.TIMESTAMP:
        return _datetime_to_millis
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
    never feed the input fails before any row is read.

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
        element = ftype.element if ftype.kind is TypeKind.ARRAY else ftype
        assert element is not None  # FieldType guarantees an ARRAY's element
        self._element = element
        self._is_array = ftype.kind is TypeKind.ARRAY
        if spec.rank == 0:
            self._fail_static("a rank-0 (scalar) input cannot take a batch of rows")
        if spec.is_string:
            if element.kind not in _TEXT_KINDS:
                self._fail_static("only STRING or BYTES columns (or arrays of them) feed a "
                                  "string input")
            self._mode = "text"
        elif spec.dtype not in _NUMPY_DTYPES:
            self._fail_static(f"akdl cannot feed inputs of dtype {spec.dtype}")
        elif element.kind in _NUMERIC_KINDS:
            self._mode = "number"
        elif element.kind is TypeKind.STRING and not self._is_array:
            self._mode = "alink"
        else:
            self._fail_static(f"a {ftype} column cannot feed a numeric input (a STRING column "
                              "can, holding Alink tensor strings such as '$2,3$1 2 3 4 5 6')")
        self._dtype = None if spec.is_string else _NUMPY_DTYPES[spec.dtype]
        if self._mode == "alink":
            pass  # each row's shape is only known from the data
        elif self._is_array:
            if spec.rank == 1:
                self._fail_static("an ARRAY column gives [batch, k]; the input takes one value "
                                  "per row")
            if spec.shape is not None and spec.rank and spec.rank > 2 and None in spec.shape[1:]:
                self._fail_static("an ARRAY row can only be reshaped to fully known dimensions")
        else:
            self._fit_shape((), None)  # a scalar per row: the shape is known now

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
        for row, value in enumerate(values):
            if value is None:
                self._fail_row(row, "the value is NULL; prediction inputs cannot be NULL")
        if self._mode == "text":
            array = self._text_array(values)
        elif self._mode == "alink":
            array = self._alink_array(values)
        elif self._is_array:
            array = self._number_matrix(values)
        else:
            array = self._number_vector(values)
        return self._fit(array)

    def _rows_as_lists(self, values: Sequence[Any]) -> list[Sequence[Any]]:
        rows = []
        for row, value in enumerate(values):
            if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
                self._fail_row(row, f"expected a list, got {_describe_value(value)}")
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

    def _text_array(self, values: Sequence[Any]) -> np.ndarray:
        def to_bytes(row: int, value: Any) -> bytes:
            if isinstance(value, str):
                return value.encode("utf-8")
            if isinstance(value, bytes | bytearray | memoryview):
                return bytes(value)
            self._fail_row(row, f"expected a string, got {_describe_value(value)}")

        if self._is_array:
            rows = self._rows_as_lists(values)
            array = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
            for r, items in enumerate(rows):
                array[r, :] = [to_bytes(r, v) for v in items]
            return array
        array = np.empty(len(values), dtype=object)
        array[:] = [to_bytes(r, v) for r, v in enumerate(values)]
        return array

    def _numbers(self, values: Sequence[Any], row_of: Callable[[int], int]) -> np.ndarray:
        """Flat values -> natural numpy array; a failure names the row holding the culprit."""
        convert = _element_scalar(self._element.kind)
        natural = _natural_dtype(self._element.kind)
        if natural.kind == "b":
            for i, v in enumerate(values):
                if not isinstance(v, bool | np.bool_) and v not in (0, 1):
                    self._fail_row(row_of(i), f"{_describe_value(v)} is not a BOOLEAN")
        try:
            converted = values if convert is None else [convert(v) for v in values]
            return np.asarray(converted, dtype=natural)
        except (TypeError, ValueError, OverflowError, decimal.InvalidOperation) as exc:
            failure = exc
        for i, v in enumerate(values):  # find the culprit for the message
            try:
                np.asarray([v if convert is None else convert(v)], dtype=natural)
            except (TypeError, ValueError, OverflowError, decimal.InvalidOperation) as exc:
                self._fail_row(row_of(i), f"{_describe_value(v)} is not a {self._element} "
                                          f"value ({exc})")
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

    def _number_vector(self, values: Sequence[Any]) -> np.ndarray:
        return self._cast(self._numbers(list(values), lambda i: i))

    def _number_matrix(self, values: Sequence[Any]) -> np.ndarray:
        rows = self._rows_as_lists(values)
        width = len(rows[0]) if rows else 0
        flat = [v for r in rows for v in r]
        array = self._numbers(flat, lambda i: i // max(width, 1))
        return self._cast(array.reshape(len(rows), width))

    def _alink_array(self, values: Sequence[Any]) -> np.ndarray:
        assert self._dtype is not None
        parsed = []
        for row, value in enumerate(values):
            if not isinstance(value, str):
                self._fail_row(row, f"expected an Alink tensor string, got "
                                    f"{_describe_value(value)}")
            try:
                tensor = parse_alink_tensor(value, self._dtype)
            except (ValueError, OverflowError) as exc:
                shown = value if len(value) <= 60 else value[:57] + "..."
                self._fail_row(row, f"{shown!r} is not an Alink tensor string ({exc})")
            try:  # reshape each row on its own, so rows with and without a prefix mix
                target = self._fit_shape(tensor.shape, None)
            except PredictError:
                assert self.spec.shape is not None  # _fit_shape fails only for known shapes
                self._fail_row(row, f"its tensor has shape {_shape_text(tensor.shape)}, but the "
                                    f"input takes rows of shape {_shape_text(self.spec.shape[1:])}")
            parsed.append(tensor if target is None else tensor.reshape(target[1:]))
        if not parsed:
            return np.zeros((0,), dtype=self._dtype)
        shapes = {p.shape for p in parsed}
        if len(shapes) > 1:
            other = next(i for i, p in enumerate(parsed) if p.shape != parsed[0].shape)
            self._fail_row(other, f"its tensor has shape {_shape_text(parsed[other].shape)} but "
                                  f"row 0's has {_shape_text(parsed[0].shape)}; all rows of a "
                                  "batch must have the same shape")
        return np.stack(parsed)

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
                else f"rows of shape {_shape_text(row_shape)}, "
                     f"shape {_shape_text((None, *row_shape))}")
        raise PredictError(f"{self._where()}: it gives {came}")


# --- outputs --------------------------------------------------------------------------------


def _is_integer_dtype(dtype: str) -> bool:
    return dtype.startswith(("int", "uint"))


def _is_numeric_dtype(dtype: str) -> bool:
    return dtype in _NUMPY_DTYPES


def _pretty_floats(array: np.ndarray) -> np.ndarray:
    """Float16/32 values as the float64 with the shortest text that gives them back."""
    if array.dtype.kind == "f" and array.dtype.itemsize < 8:
        return array.astype(str).astype(np.float64)
    return array


def _decode_nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_nested(v) for v in value]
    return value.decode("utf-8") if isinstance(value, bytes) else value


class OutputConverter:
    """Turns the value of one signature output into one Python value per row of a column.

    Construction checks what the signature declares (dtype, and rank when known); the actual
    shape is checked batch by batch.

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
        self._is_array = ftype.kind is TypeKind.ARRAY
        element = ftype.element if self._is_array else ftype
        assert element is not None  # FieldType guarantees an ARRAY's element
        self._element = element
        # A STRING column holds string tensors as text and anything else as JSON.
        self._text_or_json = ftype.kind is TypeKind.STRING
        problem = self._check_dtype(element.kind)
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
            return "" if self.spec.is_string or _is_numeric_dtype(dtype) else "unsupported dtype"
        if kind is TypeKind.BYTES:
            return "" if self.spec.is_string else "a BYTES column needs a string tensor"
        if not _is_numeric_dtype(dtype):
            return f"a {kind.value} column needs a numeric tensor"
        if kind in (TypeKind.DATE, TypeKind.TIMESTAMP) and not _is_integer_dtype(dtype):
            return f"a {kind.value} column needs an integer tensor (epoch days / millis)"
        if kind is TypeKind.BOOLEAN and dtype != "bool" and not _is_integer_dtype(dtype):
            return "a BOOLEAN column needs a bool or integer (0/1) tensor"
        return ""

    def _check_rank(self, shape: Sequence[int | None], came: str) -> None:
        rank = len(shape)
        if rank == 0:
            self._fail(came, "a scalar output has no entry per input row")
        if self._text_or_json:
            return
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
        dtype = "string" if array.dtype == object or array.dtype.kind == "S" else array.dtype.name
        came = f"{dtype}{_shape_text(array.shape)}"
        if array.ndim == 0 or array.shape[0] != batch:
            self._fail(came, f"expected one entry per input row ({batch}) along the first axis")
        self._check_rank(array.shape, came)
        one_per_row = array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)
        if self._text_or_json and (dtype != "string" or not one_per_row):
            rows = _pretty_floats(array).tolist()
            return [json.dumps(_decode_nested(r), ensure_ascii=False) for r in rows]
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
            return self._decimals(flat, came)
        if kind is TypeKind.BOOLEAN:
            if flat.dtype.kind != "b" and flat.size and not np.isin(flat, (0, 1)).all():
                bad = flat[~np.isin(flat, (0, 1))][0]
                self._fail(came, f"the value {bad.item()!r} is not 0 or 1")
            return flat.astype(bool).tolist()
        ints = self._whole_numbers(flat, came)
        if kind is TypeKind.DATE:
            try:
                return [_dt.date.fromordinal(d + _EPOCH_ORDINAL) for d in ints]
            except (ValueError, OverflowError):
                self._fail(came, "a value is not a day number a date can hold")
        if kind is TypeKind.TIMESTAMP:
            try:
                return [_EPOCH + _dt.timedelta(milliseconds=m) for m in ints]
            except OverflowError:
                self._fail(came, "a value is not a millisecond time a datetime can hold")
        low, high = _INT_RANGES[kind]
        for v in ints:
            if not low <= v <= high:
                self._fail(came, f"the value {v} is out of range for {kind.value}")
        return ints

    def _whole_numbers(self, flat: np.ndarray, came: str) -> list[int]:
        if flat.dtype.kind == "f":
            whole = np.isfinite(flat) & (np.floor(flat) == flat)
            if not whole.all():
                self._fail(came, f"the value {flat[~whole][0].item()!r} is not a whole number")
        return [int(v) for v in flat.tolist()]

    def _decimals(self, flat: np.ndarray, came: str) -> list[decimal.Decimal]:
        assert self._element.precision is not None and self._element.scale is not None
        quantum = decimal.Decimal(1).scaleb(-self._element.scale)
        limit = decimal.Decimal(10) ** (self._element.precision - self._element.scale)
        out = []
        for v in flat.astype(np.float64).tolist():
            if not math.isfinite(v):
                self._fail(came, f"the value {v!r} is not finite")
            d = _DECIMAL_CONTEXT.quantize(decimal.Decimal(v), quantum)
            if abs(d) >= limit:
                self._fail(came, f"the value {v!r} does not fit {self._element}")
            out.append(d)
        return out
