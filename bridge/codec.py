"""Rows to serialized ``tf.train.Example`` records and back, compiled once per schema.

The encoder is here; the decoder is `bridge.example_decoder`, re-exported, and the wire
format the encoder writes is `bridge.example_wire`.

Runs in both processes: the Flink side encodes input rows and decodes output records; the TF
process may use the same classes. It never imports TensorFlow: the encoder writes protobuf wire
format directly, and the decoder parses with the wire-compatible copy of ``tf.train.Example`` in
`bridge.protos.tf_example_pb2`.

The mapping follows the type table in API.md §4:

======================================  ============================================
Column type                             Example feature
======================================  ============================================
TINYINT, SMALLINT, INT, BIGINT          ``int64_list`` with one value
BOOLEAN                                 ``int64_list`` with one value, 0 or 1
FLOAT, DOUBLE, DECIMAL                  ``float_list`` with one value (float32)
STRING                                  ``bytes_list`` with one value, UTF-8
BYTES                                   ``bytes_list`` with one value
DATE                                    ``int64_list``: days since 1970-01-01
TIMESTAMP                               ``int64_list``: milliseconds since 1970-01-01
                                        UTC; naive datetimes are taken as UTC
ARRAY<T>                                the whole list, in T's kind
NULL (``None``)                         the feature is absent
======================================  ============================================

Floating-point values travel as float32, so a DOUBLE 0.1 arrives in TensorFlow as
``0.10000000149011612``; finite values beyond float32's range become infinities, as in a
float32 cast.
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from bridge.errors import SchemaMismatchError
from bridge.example_decoder import ExampleDecoder
from bridge.example_wire import (
    ONE_BYTE_VARINTS,
    TAG1,
    delimited,
    entry_prefix,
    example,
    prefix_table,
    varint,
)
from bridge.schema import FeatureKind, FieldType, Schema, TypeKind
from bridge.values import (
    INT_RANGES,
    check_int,
    date_to_days,
    datetime_to_millis,
)
from bridge.values import ValueRejected as _Reject
from bridge.values import describe_value as _describe_value

__all__ = ["ExampleDecoder", "ExampleEncoder"]

_FLOAT_KINDS = frozenset({TypeKind.FLOAT, TypeKind.DOUBLE, TypeKind.DECIMAL})

_F32 = struct.Struct("<f")
# Errors that a value of the wrong type or range raises inside struct, int() or float().
_VALUE_ERRORS = (struct.error, TypeError, ValueError, OverflowError)


# --- value conversion (encoding) ------------------------------------------------------------


def _int_converter(ftype: FieldType) -> Callable[[Any], int]:
    if ftype.kind is TypeKind.BOOLEAN:
        return _bool_to_int
    if ftype.kind is TypeKind.DATE:
        return date_to_days
    if ftype.kind is TypeKind.TIMESTAMP:
        return datetime_to_millis
    kind = ftype.kind
    return lambda value: check_int(value, kind)


def _bool_to_int(value: Any) -> int:
    if value is True or value is False or isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return int(value)
    raise _Reject(_describe_value(value))


def _str_to_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _Reject(_describe_value(value))
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Reject(f"{_describe_value(value)} (not encodable as UTF-8)") from None


def _bytes_to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise _Reject(_describe_value(value))


def _pack_float32(value: Any) -> bytes:
    """Four little-endian bytes; out-of-range finite values round to infinity like a cast."""
    try:
        return _F32.pack(value)
    except OverflowError:
        pass
    except (struct.error, TypeError):
        if not isinstance(value, int):
            raise _Reject(_describe_value(value)) from None
    try:
        as_double = float(value)
    except OverflowError:
        raise _Reject(f"{_describe_value(value)} (too large for a float)") from None
    return _F32.pack(math.copysign(math.inf, as_double))


def _pack_float32_list(values: Any) -> bytes:
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        with np.errstate(over="ignore"):
            return values.astype("<f4").tobytes()
    try:
        return struct.pack(f"<{len(values)}f", *values)
    except _VALUE_ERRORS:
        return b"".join(map(_pack_float32, values))  # finds the culprit, or rounds overflow


def _check_sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise _Reject(f"a {value.ndim}-dimensional numpy array (arrays must be flat)")
        return value
    if isinstance(value, str | bytes | bytearray | memoryview) or not isinstance(value, Sequence):
        raise _Reject(_describe_value(value))
    return value


def _reject_none_elements(values: Sequence[Any]) -> None:
    for i, element in enumerate(values):
        if element is None:
            raise _Reject(f"a list with None at index {i} (array elements cannot be NULL)")


# --- column encoders ------------------------------------------------------------------------

# A column encoder maps a non-None value to its complete map entry bytes. It raises _Reject or
# one of _VALUE_ERRORS for a value that does not fit.
_ColumnEncoder = Callable[[Any], bytes]


def _scalar_float_encoder(key_field: bytes) -> _ColumnEncoder:
    prefix = entry_prefix(key_field, FeatureKind.FLOAT, 4)

    def encode(value: Any) -> bytes:
        return prefix + _pack_float32(value)

    return encode


def _scalar_int_encoder(key_field: bytes, ftype: FieldType) -> _ColumnEncoder:
    convert = _int_converter(ftype)
    # prefixes[n]: the entry without its n-byte varint; the entry layout depends only on n.
    prefixes = [b""] + [entry_prefix(key_field, FeatureKind.INT64, n) for n in range(1, 11)]
    small = tuple(prefixes[1] + ONE_BYTE_VARINTS[i] for i in range(128))

    if ftype.kind is TypeKind.BOOLEAN:

        def encode_bool(value: Any) -> bytes:
            if value is True:
                return small[1]
            if value is False:
                return small[0]
            return small[_bool_to_int(value)]

        return encode_bool

    plain_int = ftype.kind in INT_RANGES  # 0..127 fits every integer kind

    def encode(value: Any) -> bytes:
        if plain_int and type(value) is int and 0 <= value < 128:
            return small[value]
        encoded = varint(convert(value))
        return prefixes[len(encoded)] + encoded

    return encode


def _scalar_bytes_encoder(key_field: bytes, ftype: FieldType) -> _ColumnEncoder:
    convert = _str_to_bytes if ftype.kind is TypeKind.STRING else _bytes_to_bytes

    prefix = prefix_table(key_field, FeatureKind.BYTES)

    def encode(value: Any) -> bytes:
        payload = delimited(TAG1, convert(value))
        return prefix(len(payload)) + payload

    return encode


def _array_encoder(key_field: bytes, ftype: FieldType) -> _ColumnEncoder:
    element = ftype.element
    assert element is not None  # FieldType guarantees it for ARRAY
    kind = element.feature_kind

    if kind is FeatureKind.FLOAT:

        def payload(values: Sequence[Any]) -> bytes:
            return _pack_float32_list(values)

    elif kind is FeatureKind.INT64:
        convert_int = _int_converter(element)

        def payload(values: Sequence[Any]) -> bytes:
            if isinstance(values, np.ndarray):
                values = values.tolist()
            return b"".join([varint(convert_int(v)) for v in values])

    else:
        convert_bytes = _str_to_bytes if element.kind is TypeKind.STRING else _bytes_to_bytes

        def payload(values: Sequence[Any]) -> bytes:
            if isinstance(values, np.ndarray):
                values = values.tolist()
            return b"".join([delimited(TAG1, convert_bytes(v)) for v in values])

    prefix = prefix_table(key_field, kind)

    def encode(value: Any) -> bytes:
        values = value if type(value) is list else _check_sequence(value)
        try:
            data = payload(values)
        except (_Reject, *_VALUE_ERRORS):
            _reject_none_elements(values)
            raise
        return prefix(len(data)) + data

    return encode


def _column_encoder(name: str, ftype: FieldType) -> _ColumnEncoder:
    key_field = delimited(TAG1, name.encode("utf-8"))
    if ftype.kind is TypeKind.ARRAY:
        return _array_encoder(key_field, ftype)
    kind = ftype.feature_kind
    if kind is FeatureKind.FLOAT:
        return _scalar_float_encoder(key_field)
    if kind is FeatureKind.INT64:
        return _scalar_int_encoder(key_field, ftype)
    return _scalar_bytes_encoder(key_field, ftype)


class _FloatBlock:
    """Packs the float scalar columns' map entries with one ``struct`` call.

    The entries' constant bytes (keys, tags, lengths) are fixed per schema; only the four
    bytes of each float vary. ``struct`` pad bytes (``x``) write zeros, even with
    ``pack_into`` over a prepared buffer, so the floats are packed between zero pads and the
    constants are OR-ed in from a template, as integers: each byte is zero in exactly one of
    the two.
    """

    def __init__(self, key_fields: Sequence[bytes], with_header: bool):
        prefixes = [entry_prefix(k, FeatureKind.FLOAT, 4) for k in key_fields]
        if with_header:
            body_len = sum(len(p) + 4 for p in prefixes)
            prefixes[0] = TAG1 + varint(body_len) + prefixes[0]
        self._struct = struct.Struct("<" + "".join(f"{len(p)}xf" for p in prefixes))
        template = b"".join(p + b"\x00\x00\x00\x00" for p in prefixes)
        self._template = int.from_bytes(template, "little")
        self._size = len(template)

    def pack(self, values: Iterable[Any]) -> bytes:
        """The packed entries; raises struct.error or OverflowError for odd values."""
        floats = int.from_bytes(self._struct.pack(*values), "little")
        return (floats | self._template).to_bytes(self._size, "little")


# --- encoder --------------------------------------------------------------------------------


class ExampleEncoder:
    """Encodes rows of one schema into serialized ``tf.train.Example`` records.

    Compiled once per schema: each column's key and tag bytes are prepared up front, and rows
    whose float columns (FLOAT, DOUBLE, DECIMAL) all hold numbers pack those columns with a
    single ``struct`` call. Features appear in a fixed order: the float scalar columns first,
    then the others, each group in schema order.

    Values are accepted as follows; anything else raises `SchemaMismatchError`:

    - integer types: ``int`` and numpy integers, within the type's range (``bool`` too);
    - BOOLEAN: ``bool``, ``numpy.bool_``, or the integers 0 and 1;
    - FLOAT, DOUBLE, DECIMAL: any real number (``float``, ``int``, ``Decimal``, numpy);
    - STRING: ``str``; BYTES: ``bytes``, ``bytearray`` or ``memoryview``;
    - DATE: ``datetime.date`` (not a ``datetime``); TIMESTAMP: ``datetime.datetime``;
    - ARRAY: a list, tuple or one-dimensional numpy array of non-None elements;
    - ``None`` in any column: the feature is left out.

    Args:
        schema: the columns of the rows to encode.
    """

    def __init__(self, schema: Schema):
        self._schema = schema
        self._names = schema.names
        self._name_set = frozenset(self._names)
        self._width = len(schema)
        encoders = [_column_encoder(f.name, f.type) for f in schema]
        block = [
            i
            for i, f in enumerate(schema)
            if f.type.kind in _FLOAT_KINDS  # scalar floats have a fixed-size entry
        ]
        rest = [i for i in range(self._width) if i not in block]
        # Wire order: the float block, then the rest; the careful path keeps this order too.
        self._all_columns = [(i, encoders[i]) for i in block + rest]
        self._rest_columns = [(i, encoders[i]) for i in rest]
        key_fields = [delimited(TAG1, schema.fields[i].name.encode("utf-8")) for i in block]
        self._all_floats = bool(block) and not rest
        self._block: _FloatBlock | None = None
        self._block_values: Callable[[Any], Any] | None = None
        if self._all_floats:
            self._block = _FloatBlock(key_fields, with_header=True)
        elif len(block) >= 2:
            self._block = _FloatBlock(key_fields, with_header=False)
            self._block_values = operator.itemgetter(*block)

    @property
    def schema(self) -> Schema:
        """The schema this encoder was compiled for."""
        return self._schema

    def encode(self, row: Sequence[Any]) -> bytes:
        """Encodes one row.

        Args:
            row: the values in schema order; ``None`` leaves a feature out.

        Returns:
            A serialized ``tf.train.Example``.

        Raises:
            SchemaMismatchError: the row has the wrong length, or a value does not fit its
                column; the message names the column, its declared type and the value.
        """
        if self._all_floats:
            try:
                return self._block.pack(row)  # type: ignore[union-attr]
            except _VALUE_ERRORS:
                pass  # a None, a non-number, an overflow or a bad length: take the careful path
        return self._encode_row(row)

    def encode_dict(self, values: Mapping[str, Any]) -> bytes:
        """Encodes one row given as a mapping from column name to value.

        Args:
            values: column values by name; a missing name or ``None`` leaves a feature out.

        Returns:
            A serialized ``tf.train.Example``.

        Raises:
            SchemaMismatchError: a key is not a column of the schema (the message lists the
                columns), or a value does not fit its column.
        """
        if not self._name_set.issuperset(values):
            unknown = next(k for k in values if k not in self._name_set)
            raise SchemaMismatchError(
                str(unknown),
                f"<not in schema: {', '.join(self._names)}>",
                _describe_value(values[unknown]),
            )
        return self.encode([values.get(name) for name in self._names])

    def encode_many(self, rows: Iterable[Sequence[Any]]) -> list[bytes]:
        """Encodes rows one by one, see `encode`.

        Args:
            rows: rows with values in schema order.

        Returns:
            One serialized ``tf.train.Example`` per row.
        """
        encode = self.encode
        return [encode(row) for row in rows]

    def _encode_row(self, row: Sequence[Any]) -> bytes:
        if len(row) != self._width:
            raise SchemaMismatchError(
                "<row>",
                f"{self._width} columns ({', '.join(self._names)})",
                f"a row of {len(row)} values",
            )
        parts = []
        columns = self._all_columns
        if self._block_values is not None:
            try:
                parts.append(self._block.pack(self._block_values(row)))  # type: ignore[union-attr]
                columns = self._rest_columns
            except _VALUE_ERRORS:
                pass  # some float column holds None or an odd value: encode column by column
        for i, encode in columns:
            value = row[i]
            if value is None:
                continue
            try:
                parts.append(encode(value))
            except _Reject as e:
                raise self._mismatch(i, e.got) from None
            except _VALUE_ERRORS as e:
                raise self._mismatch(i, _describe_value(value)) from e
        return example(b"".join(parts))

    def _mismatch(self, index: int, got: str) -> SchemaMismatchError:
        f = self._schema.fields[index]
        return SchemaMismatchError(f.name, f.type.sql(), got, context="encoding a row")
