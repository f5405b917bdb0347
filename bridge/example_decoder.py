"""Serialized ``tf.train.Example`` records to rows of a declared schema, compiled once per schema.

The decoding half of `bridge.codec` (which re-exports `ExampleDecoder`); the type mapping is
the table in that module's docstring. It never imports TensorFlow: it parses with the
wire-compatible copy of ``tf.train.Example`` in `bridge.protos.tf_example_pb2`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from google.protobuf.message import DecodeError

from bridge.errors import SchemaMismatchError
from bridge.protos.tf_example_pb2 import Example
from bridge.schema import FieldType, Schema, TypeKind
from bridge.values import (
    INT_RANGES,
    days_to_date,
    decimal_from_float,
    millis_to_datetime,
)
from bridge.values import ValueRejected as _Reject

__all__ = ["ExampleDecoder"]

# A column reader maps a Feature message to the column value; it raises _Reject.
_ColumnReader = Callable[[Any], Any]


def _count(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"


def _describe_feature(feature: Any) -> str:
    kind = feature.WhichOneof("kind")
    if kind is None:
        return "a feature with no list set"
    return f"{kind} with {_count(len(getattr(feature, kind).value))}"


def _value_reader(ftype: FieldType) -> Callable[[Any], Any] | None:
    """Converts one list element to the column's Python value; ``None`` means as-is."""
    kind = ftype.kind
    if kind in (TypeKind.FLOAT, TypeKind.DOUBLE, TypeKind.BYTES):
        return None
    if kind is TypeKind.BIGINT:
        return None  # int64 values always fit
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]

        def read_int(value: int) -> int:
            if not low <= value <= high:
                raise _Reject(f"int64_list value {value} (out of range for {kind.value})")
            return value

        return read_int
    if kind is TypeKind.BOOLEAN:
        return _read_bool
    if kind is TypeKind.STRING:
        return _read_string
    if kind is TypeKind.DATE:
        return _list_value("int64_list", days_to_date)
    if kind is TypeKind.TIMESTAMP:
        return _list_value("int64_list", millis_to_datetime)
    if kind is TypeKind.DECIMAL:
        return _list_value("float_list", decimal_from_float(ftype))
    raise AssertionError(f"no reader for {kind}")  # pragma: no cover - every kind is handled


def _read_bool(value: int) -> bool:
    if value == 1:
        return True
    if value == 0:
        return False
    raise _Reject(f"int64_list value {value} (BOOLEAN needs 0 or 1)")


def _read_string(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        shown = value if len(value) <= 40 else value[:40] + b"..."
        raise _Reject(f"bytes_list value {shown!r} (not valid UTF-8)") from None


def _list_value(list_name: str, read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A reader of one value of a ``list_name`` whose rejections say where the value came from."""

    def reader(value: Any) -> Any:
        try:
            return read(value)
        except _Reject as e:
            raise _Reject(f"{list_name} value {e.got}") from None

    return reader


def _column_reader(ftype: FieldType) -> _ColumnReader:
    is_array = ftype.is_array
    element = ftype.value_type
    list_field = operator.attrgetter(ftype.feature_kind.value)  # e.g. feature.int64_list
    expected = ftype.feature_kind.value
    convert = _value_reader(element)

    def check_kind(feature: Any) -> bool:
        """Whether the feature holds the expected list; False when it holds none at all."""
        kind = feature.WhichOneof("kind")
        if kind is not None and kind != expected:
            raise _Reject(_describe_feature(feature))
        return kind is not None

    def read_scalar(feature: Any) -> Any:
        # An unset list reads as empty, so one value proves the kind without WhichOneof.
        values = list_field(feature).value
        if len(values) != 1:
            if not check_kind(feature):
                return None  # a feature with no list set counts as missing
            raise _Reject(_describe_feature(feature))
        return values[0] if convert is None else convert(values[0])

    def read_array(feature: Any) -> Any:
        if not check_kind(feature):
            return None
        values = list_field(feature).value
        return list(values) if convert is None else [convert(v) for v in values]

    return read_array if is_array else read_scalar


class ExampleDecoder:
    """Decodes serialized ``tf.train.Example`` records into rows of a declared schema.

    Each column reads the feature with its own name: scalars take the single value, ARRAY
    columns the whole list, and a missing feature gives ``None``. FLOAT and DOUBLE give
    ``float``, DECIMAL a ``decimal.Decimal`` rounded half-up to the declared scale, DATE a
    ``datetime.date``, TIMESTAMP a naive UTC ``datetime.datetime``.

    Nothing is dropped silently: a feature of the wrong kind, a scalar feature without
    exactly one value, a value out of the column's range, and a feature that is not a
    declared column all raise `SchemaMismatchError`.

    Args:
        schema: the declared output columns.
    """

    def __init__(self, schema: Schema):
        self._schema = schema
        self._names = schema.names
        self._width = len(schema)
        self._readers = {f.name: (i, _column_reader(f.type)) for i, f in enumerate(schema)}

    @property
    def schema(self) -> Schema:
        """The schema this decoder was compiled for."""
        return self._schema

    def decode(self, data: bytes) -> list[Any]:
        """Decodes one record.

        Args:
            data: a serialized ``tf.train.Example``.

        Returns:
            The column values in schema order.

        Raises:
            SchemaMismatchError: the record does not parse, or does not fit the schema; the
                message names the column, its declared type and what came.
        """
        try:
            features = Example.FromString(data).features.feature
        except DecodeError as e:
            raise SchemaMismatchError(
                "<record>",
                "a serialized tf.train.Example",
                f"{len(data)} bytes that do not parse ({e})",
            ) from None
        row: list[Any] = [None] * self._width
        readers = self._readers
        for name in features:  # with upb, keys then lookups beat items()
            slot = readers.get(name)
            if slot is None:
                self._raise_undeclared(features)
            index, read = slot
            try:
                row[index] = read(features[name])
            except _Reject as e:
                raise self._mismatch(name, e.got) from None
        return row

    def decode_many(self, records: Iterable[bytes]) -> list[list[Any]]:
        """Decodes records one by one, see `decode`.

        Args:
            records: serialized ``tf.train.Example`` records.

        Returns:
            One row per record.
        """
        decode = self.decode
        return [decode(record) for record in records]

    def _mismatch(self, name: str, got: str) -> SchemaMismatchError:
        declared = self._schema.fields[self._schema.index_of(name)].type.sql()
        return SchemaMismatchError(name, declared, got, context="decoding an output record")

    def _raise_undeclared(self, features: Any) -> NoReturn:
        undeclared = sorted(k for k in features if k not in self._schema)
        context = "decoding an output record; undeclared features are never dropped silently"
        if len(undeclared) > 1:
            context += f"; all undeclared: {', '.join(undeclared)}"
        raise SchemaMismatchError(
            undeclared[0],
            f"<not in output schema: {', '.join(self._names)}>",
            _describe_feature(features[undeclared[0]]),
            context=context,
        )
