"""Columns on the wire: every type of API.md §4, NULLs included, round-trips exactly."""

import datetime as dt

import numpy as np
import pytest

from bridge.column_batch import decode_batch, encode_batch, from_python, to_python
from bridge.schema import parse_schema

MATRIX = [
    ("tinyint", [1, None, -128]),
    ("smallint", [None, 32767, 0]),
    ("int", [2**31 - 1, -(2**31), None]),
    ("bigint", [2**63 - 1, None, -(2**63)]),
    ("boolean", [True, None, False]),
    ("float", [1.5, None, float("inf")]),
    ("double", [0.1, -2.5e300, None]),
    ("string", ["héllo", None, ""]),
    ("bytes", [b"\x00\xff", b"", None]),
    ("date", [dt.date(1969, 12, 31), None, dt.date(2038, 1, 20)]),
    ("timestamp", [dt.datetime(1969, 12, 31, 23, 59, 59, 999000), None,
                   dt.datetime(2024, 2, 29, 12, 0, 0, 1000)]),
    ("array<double>", [[1.0, 2.5], None, []]),
    ("array<bigint>", [[2**62, -1], [], None]),
    ("array<string>", [None, ["a", "é"], []]),
    ("array<boolean>", [[True, False], None, [True]]),
]


@pytest.mark.parametrize(("type_text", "values"), MATRIX, ids=[m[0] for m in MATRIX])
def test_values_round_trip_through_a_column_batch(type_text, values):
    schema = parse_schema(f"c {type_text}")
    message = encode_batch(schema, [from_python(schema.types[0], values)], len(values))
    rows, (column,) = decode_batch(message.FromString(message.SerializeToString()))
    assert rows == len(values)
    assert to_python(schema.types[0], column, rows) == values


def test_fixed_width_columns_travel_as_raw_buffers():
    schema = parse_schema("x double, n bigint")
    columns = [from_python(t, v) for t, v in zip(schema.types, ([0.5] * 1000, list(range(1000))))]
    message = encode_batch(schema, columns, 1000)
    assert [c.dtype for c in message.columns] == ["<f8", "<i8"]
    assert len(message.columns[0].data) == 8000 and not message.columns[0].nulls
    _, (x, n) = decode_batch(message)
    assert isinstance(x.values, np.ndarray) and x.values.dtype == np.float64
    assert n.values.tolist() == list(range(1000))
