"""The Example codec, checked against TensorFlow's own parsing and message building.

Float note: every FLOAT, DOUBLE and DECIMAL value travels as float32 (API.md §4). A DOUBLE 0.1
therefore arrives as float32 0.1, which reads back as 0.10000000149011612; the assertions
below compare through ``np.float32``.
"""

import datetime as dt
import decimal
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from bridge.codec import ExampleDecoder, ExampleEncoder
from bridge.errors import SchemaMismatchError
from bridge.schema import parse_schema

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
UTC = dt.UTC


def f_int(*values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def f_float(*values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def f_bytes(*values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def example(**features):
    return tf.train.Example(features=tf.train.Features(feature=features))


def days(d):
    return (d - dt.date(1970, 1, 1)).days


# (type, python value, the Feature an idiomatic tf.train.Example would hold; None: absent)
ENCODE_CASES = [
    ("tinyint", -128, f_int(-128)),
    ("tinyint", 127, f_int(127)),
    ("smallint", -32768, f_int(-32768)),
    ("smallint", 32767, f_int(32767)),
    ("int", -(2**31), f_int(-(2**31))),
    ("int", 2**31 - 1, f_int(2**31 - 1)),
    ("int", np.int32(-7), f_int(-7)),
    ("bigint", 0, f_int(0)),
    ("bigint", -1, f_int(-1)),
    ("bigint", 127, f_int(127)),
    ("bigint", 128, f_int(128)),
    ("bigint", 16383, f_int(16383)),
    ("bigint", 16384, f_int(16384)),
    ("bigint", 2**35 + 3, f_int(2**35 + 3)),
    ("bigint", I64_MIN, f_int(I64_MIN)),
    ("bigint", I64_MAX, f_int(I64_MAX)),
    ("bigint", np.int64(-5), f_int(-5)),
    ("bigint", np.uint8(200), f_int(200)),
    ("bigint", True, f_int(1)),
    ("boolean", True, f_int(1)),
    ("boolean", False, f_int(0)),
    ("boolean", np.bool_(True), f_int(1)),
    ("boolean", 0, f_int(0)),
    ("float", 1.5, f_float(1.5)),
    ("float", np.float32(0.1), f_float(0.1)),
    ("double", 0.1, f_float(0.1)),
    ("double", -0.0, f_float(-0.0)),
    ("double", 3, f_float(3.0)),
    ("double", np.float64(2.5), f_float(2.5)),
    ("double", math.inf, f_float(math.inf)),
    ("double", 1e300, f_float(math.inf)),  # beyond float32: rounds to infinity, like a cast
    ("double", -1e300, f_float(-math.inf)),
    ("double", 1e-50, f_float(0.0)),
    ("decimal(10, 2)", decimal.Decimal("3.14"), f_float(3.14)),
    ("decimal(10, 2)", decimal.Decimal("-12345678.91"), f_float(-12345678.91)),
    ("string", "héllo 世界 🎉", f_bytes("héllo 世界 🎉".encode())),
    ("string", "", f_bytes(b"")),
    ("string", "x" * 300, f_bytes(b"x" * 300)),
    ("string", np.str_("np"), f_bytes(b"np")),
    ("bytes", b"\x00\xff\x80", f_bytes(b"\x00\xff\x80")),
    ("bytes", b"", f_bytes(b"")),
    ("bytes", bytearray(b"ab"), f_bytes(b"ab")),
    ("bytes", memoryview(b"cd"), f_bytes(b"cd")),
    ("bytes", b"z" * 70000, f_bytes(b"z" * 70000)),
    ("varbinary(10)", b"v", f_bytes(b"v")),
    ("date", dt.date(1970, 1, 1), f_int(0)),
    ("date", dt.date(1969, 12, 31), f_int(-1)),
    ("date", dt.date(1900, 1, 1), f_int(-25567)),
    ("date", dt.date(1, 1, 1), f_int(days(dt.date(1, 1, 1)))),
    ("date", dt.date(2024, 2, 29), f_int(days(dt.date(2024, 2, 29)))),
    ("timestamp", dt.datetime(1970, 1, 1), f_int(0)),
    ("timestamp(3)", dt.datetime(2024, 5, 6, 7, 8, 9, 123456), f_int(1714979289123)),
    ("timestamp", dt.datetime(1969, 12, 31, 23, 59, 59, 999000), f_int(-1)),
    ("timestamp", dt.datetime(1969, 12, 31, 23, 59, 59, 999999), f_int(-1)),  # floors
    ("timestamp", dt.datetime(1900, 1, 1), f_int(-2208988800000)),
    (
        "timestamp",
        dt.datetime(2024, 5, 6, 9, 8, 9, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        f_int(1714979289123),
    ),
    ("timestamp_ltz(3)", dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), f_int(1000)),
    ("array<double>", [1.0, 2.5, 0.1], f_float(1.0, 2.5, 0.1)),
    ("array<double>", (1.0, 2.0), f_float(1.0, 2.0)),
    ("array<double>", np.array([0.5, -1.25]), f_float(0.5, -1.25)),
    ("array<double>", np.array([1, 2], dtype=np.int16), f_float(1.0, 2.0)),
    ("array<double>", [1, 1e300, decimal.Decimal("0.5")], f_float(1.0, math.inf, 0.5)),
    ("array<double>", [], f_float()),
    ("array<double>", np.array([], dtype=np.float64), f_float()),
    ("array<float>", np.array([0.1, 0.2], dtype=np.float32), f_float(0.1, 0.2)),
    ("array<decimal(5, 2)>", [decimal.Decimal("1.25")], f_float(1.25)),
    ("array<bigint>", [1, -1, I64_MAX, I64_MIN, 300], f_int(1, -1, I64_MAX, I64_MIN, 300)),
    ("array<bigint>", np.array([3, -4], dtype=np.int64), f_int(3, -4)),
    ("array<bigint>", [], f_int()),
    ("array<int>", [2**31 - 1], f_int(2**31 - 1)),
    ("array<boolean>", [True, False, np.bool_(True)], f_int(1, 0, 1)),
    ("array<date>", [dt.date(1969, 12, 31), dt.date(1970, 1, 2)], f_int(-1, 1)),
    ("array<timestamp>", [dt.datetime(1970, 1, 1, 0, 0, 0, 5000)], f_int(5)),
    ("array<string>", ["a", "", "é"], f_bytes(b"a", b"", "é".encode())),
    ("array<string>", np.array(["x", "yz"]), f_bytes(b"x", b"yz")),
    ("array<string>", [], f_bytes()),
    ("array<bytes>", [b"x", b"", bytearray(b"q")], f_bytes(b"x", b"", b"q")),
]
# None is "absent" for every type.
ENCODE_CASES += [(t, None, None) for t in sorted({c[0] for c in ENCODE_CASES})]

TF_DTYPES = {"int64_list": tf.int64, "float_list": tf.float32, "bytes_list": tf.string}


def _ids(cases):
    return [f"{c[0]}-{type(c[1]).__name__}-{i}" for i, c in enumerate(cases)]


@pytest.mark.parametrize("type_text, value, feature", ENCODE_CASES, ids=_ids(ENCODE_CASES))
def test_encode_matches_idiomatic_example(type_text, value, feature):
    schema = parse_schema(f"x {type_text}")
    data = ExampleEncoder(schema).encode([value])
    expected = example(x=feature) if feature is not None else example()
    # Same message, and with one feature even the same bytes as protobuf's own serializer.
    assert tf.train.Example.FromString(data) == expected
    assert data == expected.SerializeToString()


@pytest.mark.parametrize("type_text, value, feature", ENCODE_CASES, ids=_ids(ENCODE_CASES))
def test_encode_parses_with_tf_io(type_text, value, feature):
    schema = parse_schema(f"x {type_text}")
    data = ExampleEncoder(schema).encode([value])
    kind = schema.types[0].feature_kind.value
    dtype = TF_DTYPES[kind]
    batch = tf.constant([data])
    ragged = tf.io.parse_example(batch, {"x": tf.io.RaggedFeature(dtype)})["x"]
    values = ragged[0].numpy().tolist()
    sparse = tf.io.parse_example(batch, {"x": tf.io.VarLenFeature(dtype)})["x"]
    np.testing.assert_array_equal(
        sparse.values.numpy(), np.array(values, sparse.dtype.as_numpy_dtype)
    )
    expected = list(getattr(feature, kind).value) if feature is not None else []
    if dtype == tf.float32:
        np.testing.assert_array_equal(np.array(values, np.float32), np.array(expected, np.float32))
    else:
        assert values == expected
    if feature is not None and schema.types[0].kind.value != "ARRAY":
        default = {tf.int64: 0, tf.float32: 0.0, tf.string: b""}[dtype]
        fixed = tf.io.parse_example(
            tf.constant([data]), {"x": tf.io.FixedLenFeature([], dtype, default_value=default)}
        )["x"][0].numpy()
        if dtype == tf.float32:
            assert np.float32(fixed) == np.float32(expected[0]) or (
                math.isnan(fixed) and math.isnan(expected[0])
            )
        else:
            assert fixed == expected[0]


def test_double_arrives_as_float32():
    data = ExampleEncoder(parse_schema("x double")).encode([0.1])
    got = tf.io.parse_single_example(data, {"x": tf.io.FixedLenFeature([], tf.float32)})["x"]
    assert got.numpy() == np.float32(0.1)
    assert float(got.numpy()) == 0.10000000149011612
    assert ExampleDecoder(parse_schema("x double")).decode(data) == [0.10000000149011612]


def test_nan_survives():
    schema = parse_schema("x double, y float")
    data = ExampleEncoder(schema).encode([math.nan, np.float32("nan")])
    parsed = tf.io.parse_single_example(
        data,
        {"x": tf.io.FixedLenFeature([], tf.float32), "y": tf.io.FixedLenFeature([], tf.float32)},
    )
    assert np.isnan(parsed["x"].numpy()) and np.isnan(parsed["y"].numpy())
    assert all(math.isnan(v) for v in ExampleDecoder(schema).decode(data))


ALL_TYPES_SCHEMA = parse_schema(
    "ti tinyint, si smallint, i int, l long, b boolean, f float, d double, "
    "dec decimal(10, 2), s string, by bytes, da date, ts timestamp(3), "
    "av ARRAY<DOUBLE>, al ARRAY<BIGINT>, as_ ARRAY<STRING>, d2 double, d3 double"
)
ALL_TYPES_ROW = [
    -3,
    300,
    -70000,
    I64_MIN,
    True,
    0.25,
    0.1,
    decimal.Decimal("1.5"),
    "ünï",
    b"\x01",
    dt.date(1950, 6, 1),
    dt.datetime(1950, 6, 1, 12, 0, 0, 250000),
    [0.5, 0.1],
    [-1, 2],
    ["p", "q"],
    7.0,
    -2.0,
]


def all_types_example():
    return example(
        ti=f_int(-3),
        si=f_int(300),
        i=f_int(-70000),
        l=f_int(I64_MIN),
        b=f_int(1),
        f=f_float(0.25),
        d=f_float(0.1),
        dec=f_float(1.5),
        s=f_bytes("ünï".encode()),
        by=f_bytes(b"\x01"),
        da=f_int(days(dt.date(1950, 6, 1))),
        ts=f_int((ALL_TYPES_ROW[11] - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)),
        av=f_float(0.5, 0.1),
        al=f_int(-1, 2),
        as_=f_bytes(b"p", b"q"),
        d2=f_float(7.0),
        d3=f_float(-2.0),
    )


def test_mixed_row_matches_idiomatic_example():
    enc = ExampleEncoder(ALL_TYPES_SCHEMA)
    data = enc.encode(ALL_TYPES_ROW)
    assert tf.train.Example.FromString(data) == all_types_example()
    # Deterministic: the same row always gives the same bytes.
    assert enc.encode(list(ALL_TYPES_ROW)) == data
    assert enc.encode(tuple(ALL_TYPES_ROW)) == data


def test_mixed_row_with_nones_and_float_block_fallback():
    enc = ExampleEncoder(ALL_TYPES_SCHEMA)
    row = list(ALL_TYPES_ROW)
    row[6] = None  # a float column of the block is NULL: column-by-column path
    row[8] = None
    expected = all_types_example()
    del expected.features.feature["d"]
    del expected.features.feature["s"]
    assert tf.train.Example.FromString(enc.encode(row)) == expected
    # Overflow takes the careful path, inf the block path: both give identical bytes.
    row_overflow, row_inf = list(ALL_TYPES_ROW), list(ALL_TYPES_ROW)
    row_overflow[16], row_inf[16] = -1e300, -math.inf
    assert enc.encode(row_overflow) == enc.encode(row_inf)


def test_mixed_batch_parses_with_tf_io():
    enc = ExampleEncoder(ALL_TYPES_SCHEMA)
    empty_row = [None] * len(ALL_TYPES_SCHEMA)
    batch = tf.constant([enc.encode(ALL_TYPES_ROW), enc.encode(empty_row)])
    spec = {
        "l": tf.io.FixedLenFeature([], tf.int64, default_value=42),
        "b": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        "d": tf.io.FixedLenFeature([], tf.float32, default_value=-1.0),
        "s": tf.io.FixedLenFeature([], tf.string, default_value=b"?"),
        "ts": tf.io.FixedLenFeature([], tf.int64, default_value=0),
        "av": tf.io.VarLenFeature(tf.float32),
        "al": tf.io.RaggedFeature(tf.int64),
        "as_": tf.io.RaggedFeature(tf.string),
    }
    parsed = tf.io.parse_example(batch, spec)
    assert parsed["l"].numpy().tolist() == [I64_MIN, 42]
    assert parsed["b"].numpy().tolist() == [1, -1]
    assert parsed["d"].numpy().tolist() == [np.float32(0.1), -1.0]
    assert parsed["s"].numpy().tolist() == ["ünï".encode(), b"?"]
    ts_ms = (dt.datetime(1950, 6, 1, 12, 0, 0, 250000) - dt.datetime(1970, 1, 1)) // dt.timedelta(
        milliseconds=1
    )
    assert parsed["ts"].numpy()[0] == ts_ms
    dense_av = tf.sparse.to_dense(parsed["av"]).numpy()
    np.testing.assert_array_equal(dense_av, np.array([[0.5, 0.1], [0, 0]], np.float32))
    assert parsed["al"].to_list() == [[-1, 2], []]
    assert parsed["as_"].to_list() == [[b"p", b"q"], []]


@pytest.mark.parametrize("n_cols, name_len", [(1, 1), (11, 3), (40, 130), (300, 60)])
def test_all_float_fast_path_any_size(n_cols, name_len):
    # Long names need multi-byte varint lengths; many columns a multi-byte Example length.
    names = [f"c{i}".ljust(name_len, "_") for i in range(n_cols)]
    schema = parse_schema(", ".join(f"{n} double" for n in names))
    rng = np.random.default_rng(n_cols)
    row = (rng.standard_normal(n_cols) * 1e3).tolist()
    row[0] = -row[0]
    enc = ExampleEncoder(schema)
    data = enc.encode(row)
    expected = example(**{n: f_float(v) for n, v in zip(names, row)})
    assert tf.train.Example.FromString(data) == expected
    # Mixed value types still take the struct path and give the same message.
    row2 = [np.float64(v) for v in row]
    row2[-1] = decimal.Decimal(repr(row[-1]))
    assert enc.encode(row2) == data
    assert enc.encode(np.array(row)) == data
    decoded = ExampleDecoder(schema).decode(data)
    np.testing.assert_array_equal(np.array(decoded, np.float32), np.array(row, np.float32))


def test_all_float_fast_path_falls_back_for_none():
    schema = parse_schema("a double, b double, c double")
    enc = ExampleEncoder(schema)
    assert tf.train.Example.FromString(enc.encode([1.0, None, 3.0])) == example(
        a=f_float(1.0), c=f_float(3.0)
    )
    assert tf.train.Example.FromString(enc.encode([None, None, None])) == example()


def test_encode_dict_and_many():
    schema = parse_schema("a long, b string, c double")
    enc = ExampleEncoder(schema)
    assert enc.encode_dict({"b": "x", "a": 1}) == enc.encode([1, "x", None])
    assert enc.encode_dict({}) == enc.encode([None, None, None])
    assert enc.encode_many([[1, "x", 2.0], [None, None, None]]) == [
        enc.encode([1, "x", 2.0]),
        enc.encode([None, None, None]),
    ]
    assert enc.schema is schema


# --- encoding errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_text, value, got_part",
    [
        ("double", "abc", "str 'abc'"),
        ("double", b"1", "bytes b'1'"),
        ("double", 10**400, "too large"),
        ("float", [1.0], "list [1.0]"),
        ("decimal(5, 2)", "1.5", "str '1.5'"),
        ("bigint", 1.5, "float 1.5"),
        ("bigint", "1", "str '1'"),
        ("bigint", 2**63, "out of range for BIGINT"),
        ("bigint", -(2**63) - 1, "out of range for BIGINT"),
        ("tinyint", 128, "out of range for TINYINT"),
        ("smallint", -32769, "out of range for SMALLINT"),
        ("int", 2**31, "out of range for INT"),
        ("boolean", 2, "int 2"),
        ("boolean", "true", "str 'true'"),
        ("boolean", 1.0, "float 1.0"),
        ("string", b"x", "bytes b'x'"),
        ("string", 5, "int 5"),
        ("string", "\udc80", "not encodable as UTF-8"),
        ("bytes", "x", "str 'x'"),
        ("date", dt.datetime(2020, 1, 1), "datetime"),
        ("date", "2020-01-01", "str"),
        ("timestamp", dt.date(2020, 1, 1), "date"),
        ("timestamp", 0, "int 0"),
        ("array<double>", [1.0, None], "None at index 1"),
        ("array<double>", [1.0, "x"], "str 'x'"),
        ("array<bigint>", [1, None, 3], "None at index 1"),
        ("array<bigint>", [1, 2**64], "out of range for BIGINT"),
        ("array<string>", "abc", "str 'abc'"),
        ("array<string>", ["a", None], "None at index 1"),
        ("array<string>", ["a", 1], "int 1"),
        ("array<bytes>", b"abc", "bytes b'abc'"),
        ("array<double>", np.zeros((2, 2)), "2-dimensional"),
        ("array<double>", {1.0, 2.0}, "set"),
        ("array<double>", 1.0, "float 1.0"),
    ],
)
def test_encode_errors_name_column_type_and_value(type_text, value, got_part):
    schema = parse_schema(f"col_x {type_text}")
    with pytest.raises(SchemaMismatchError) as e:
        ExampleEncoder(schema).encode([value])
    err = e.value
    assert err.column == "col_x"
    assert err.declared == schema.types[0].sql()
    assert got_part in err.got
    assert "col_x" in str(err) and schema.types[0].sql() in str(err) and got_part in str(err)


def test_encode_error_in_fast_path_names_the_right_column():
    schema = parse_schema("a double, b double, c double")
    with pytest.raises(SchemaMismatchError) as e:
        ExampleEncoder(schema).encode([1.0, 2.0, "three"])
    assert e.value.column == "c" and e.value.declared == "DOUBLE" and "str 'three'" in e.value.got
    mixed = parse_schema("a double, b double, n string")
    with pytest.raises(SchemaMismatchError) as e:
        ExampleEncoder(mixed).encode(["one", 2.0, "s"])
    assert e.value.column == "a"


def test_encode_wrong_row_length():
    enc = ExampleEncoder(parse_schema("a double, b double"))
    with pytest.raises(SchemaMismatchError, match="a row of 3 values"):
        enc.encode([1.0, 2.0, 3.0])
    enc = ExampleEncoder(parse_schema("a long, b string"))
    with pytest.raises(SchemaMismatchError, match=r"2 columns \(a, b\)"):
        enc.encode([1])


def test_encode_dict_unknown_key():
    enc = ExampleEncoder(parse_schema("a long, b string"))
    with pytest.raises(SchemaMismatchError) as e:
        enc.encode_dict({"a": 1, "zz": 2})
    assert e.value.column == "zz"
    assert "a, b" in e.value.declared and "zz" in str(e.value)


# --- decoding -------------------------------------------------------------------------------

# (type, Feature as TF would write it, the decoded Python value)
DECODE_CASES = [
    ("tinyint", f_int(-128), -128),
    ("smallint", f_int(32767), 32767),
    ("int", f_int(-(2**31)), -(2**31)),
    ("bigint", f_int(I64_MIN), I64_MIN),
    ("bigint", f_int(I64_MAX), I64_MAX),
    ("boolean", f_int(1), True),
    ("boolean", f_int(0), False),
    ("float", f_float(1.5), 1.5),
    ("double", f_float(0.1), float(np.float32(0.1))),
    ("decimal(10, 2)", f_float(3.14159), decimal.Decimal("3.14")),
    ("decimal(10, 2)", f_float(0.125), decimal.Decimal("0.13")),  # half-up
    ("decimal(10, 2)", f_float(-2.5), decimal.Decimal("-2.50")),
    ("decimal", f_float(7.6), decimal.Decimal("8")),
    ("string", f_bytes("héllo 🎉".encode()), "héllo 🎉"),
    ("string", f_bytes(b""), ""),
    ("bytes", f_bytes(b"\x00\xff"), b"\x00\xff"),
    ("date", f_int(-1), dt.date(1969, 12, 31)),
    ("date", f_int(19000), dt.date(1970, 1, 1) + dt.timedelta(days=19000)),
    ("timestamp(3)", f_int(-1), dt.datetime(1969, 12, 31, 23, 59, 59, 999000)),
    ("timestamp", f_int(1714979289123), dt.datetime(2024, 5, 6, 7, 8, 9, 123000)),
    ("array<double>", f_float(0.5, 1.5), [0.5, 1.5]),
    ("array<double>", f_float(), []),
    ("array<bigint>", f_int(1, -1, I64_MIN), [1, -1, I64_MIN]),
    ("array<bigint>", f_int(), []),
    ("array<boolean>", f_int(1, 0), [True, False]),
    ("array<string>", f_bytes(b"a", "é".encode()), ["a", "é"]),
    ("array<string>", f_bytes(), []),
    ("array<bytes>", f_bytes(b"a", b""), [b"a", b""]),
    ("array<date>", f_int(0, 1), [dt.date(1970, 1, 1), dt.date(1970, 1, 2)]),
    ("array<decimal(4, 1)>", f_float(1.25), [decimal.Decimal("1.3")]),
]


@pytest.mark.parametrize("type_text, feature, value", DECODE_CASES, ids=_ids(DECODE_CASES))
def test_decode_tf_built_examples(type_text, feature, value):
    schema = parse_schema(f"x {type_text}, other long")
    data = example(x=feature).SerializeToString()
    row = ExampleDecoder(schema).decode(data)
    assert row == [value, None]
    assert type(row[0]) is type(value)
    if isinstance(value, list) and value:
        assert all(type(a) is type(b) for a, b in zip(row[0], value))


def test_decode_missing_and_empty_kind_are_null():
    schema = parse_schema("a long, b string, c ARRAY<DOUBLE>")
    dec = ExampleDecoder(schema)
    assert dec.decode(example().SerializeToString()) == [None, None, None]
    assert dec.decode(b"") == [None, None, None]
    no_kind = example(a=tf.train.Feature(), c=tf.train.Feature()).SerializeToString()
    assert dec.decode(no_kind) == [None, None, None]
    assert dec.schema is schema


def test_encode_decode_round_trip():
    enc = ExampleEncoder(ALL_TYPES_SCHEMA)
    dec = ExampleDecoder(ALL_TYPES_SCHEMA)
    row = dec.decode(enc.encode(ALL_TYPES_ROW))
    expected = list(ALL_TYPES_ROW)
    expected[6] = float(np.float32(0.1))
    expected[7] = decimal.Decimal("1.50")
    expected[12] = [0.5, float(np.float32(0.1))]
    assert row == expected
    assert dec.decode_many([enc.encode(ALL_TYPES_ROW)] * 2) == [expected, expected]
    nulls = [None] * len(ALL_TYPES_SCHEMA)
    assert dec.decode(enc.encode(nulls)) == nulls


@pytest.mark.parametrize(
    "type_text, feature, got",
    [
        ("bigint", f_float(1.0), "float_list with 1 value"),
        ("bigint", f_bytes(b"1"), "bytes_list with 1 value"),
        ("bigint", f_int(1, 2, 3), "int64_list with 3 values"),
        ("bigint", f_int(), "int64_list with 0 values"),
        ("double", f_int(1), "int64_list with 1 value"),
        ("double", f_float(1.0, 2.0), "float_list with 2 values"),
        ("boolean", f_float(1.0), "float_list with 1 value"),
        ("boolean", f_int(2), "int64_list value 2 (BOOLEAN needs 0 or 1)"),
        ("string", f_int(1), "int64_list with 1 value"),
        ("string", f_bytes(b"\xff\xfe"), "not valid UTF-8"),
        ("string", f_bytes(b"a", b"b"), "bytes_list with 2 values"),
        ("array<double>", f_int(1, 2), "int64_list with 2 values"),
        ("array<string>", f_float(), "float_list with 0 values"),
        ("tinyint", f_int(300), "int64_list value 300 (out of range for TINYINT)"),
        ("smallint", f_int(-40000), "out of range for SMALLINT"),
        ("int", f_int(2**31), "out of range for INT"),
        ("array<tinyint>", f_int(1, 200), "out of range for TINYINT"),
        ("decimal(5, 2)", f_float(1e10), "does not fit DECIMAL(5, 2)"),
        ("decimal(5, 2)", f_float(math.nan), "not finite"),
        ("date", f_int(10**12), "int64_list value 1000000000000"),
        ("timestamp", f_int(I64_MAX), "int64_list value 9223372036854775807"),
    ],
)
def test_decode_errors_name_column_type_and_what_came(type_text, feature, got):
    schema = parse_schema(f"out_col {type_text}")
    data = example(out_col=feature).SerializeToString()
    with pytest.raises(SchemaMismatchError) as e:
        ExampleDecoder(schema).decode(data)
    err = e.value
    assert err.column == "out_col"
    assert err.declared == schema.types[0].sql()
    assert got in err.got
    assert "out_col" in str(err) and schema.types[0].sql() in str(err) and got in str(err)


def test_decode_undeclared_feature_is_an_error():
    schema = parse_schema("a long, b double")
    data = example(a=f_int(1), zeta=f_float(1.0, 2.0), alpha=f_bytes(b"x")).SerializeToString()
    with pytest.raises(SchemaMismatchError) as e:
        ExampleDecoder(schema).decode(data)
    err = e.value
    assert err.column == "alpha"
    assert err.declared == "<not in output schema: a, b>"
    assert err.got == "bytes_list with 1 value"
    assert "alpha, zeta" in str(err)


def test_decode_garbage():
    with pytest.raises(SchemaMismatchError, match="do not parse"):
        ExampleDecoder(parse_schema("a long")).decode(b"\xff\xff\xff")


def test_codec_schema_and_tfrecord_never_import_tensorflow():
    code = (
        "import sys, bridge.codec, bridge.schema, akdl.runner.tfrecord\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'operators')]\n"
        "assert not bad, bad\n"
    )
    repo_root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo_root)
