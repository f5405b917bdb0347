"""Round trip of every column kind: Table -> DataStream -> Python map -> Table."""

import datetime
import decimal

import pytest
from pyflink.common import Row

from bridge.schema import TypeKind, parse_schema
from operators import BatchOperator, MemSourceBatchOp, get_batch_table_env
from operators.types import row_type_info, schema_of_table, table_schema, table_type_strings

pytestmark = pytest.mark.e2e

SCHEMA = (
    "ti TINYINT, si SMALLINT, i INT, b BIGINT, bo BOOLEAN, f FLOAT, d DOUBLE, "
    "dec DECIMAL(10, 2), s STRING, by BYTES, dt DATE, ts TIMESTAMP(3), ts6 TIMESTAMP(6), "
    "ltz TIMESTAMP_LTZ(3), "
    "ad ARRAY<DOUBLE>, al ARRAY<BIGINT>, ast ARRAY<STRING>, adec ARRAY<DECIMAL(5, 1)>"
)
ROW = (
    -1,
    300,
    70000,
    2**62 + 1,
    True,
    1.5,
    2.25,
    decimal.Decimal("3.14"),
    "héllo",
    b"\x00\xff",
    datetime.date(2024, 1, 2),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 123000),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 123456),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=datetime.UTC),
    [1.0, 2.0],
    [1, 2**40],
    ["a", ""],
    [decimal.Decimal("1.5")],
)


def _identity(row):
    return Row(*row)


def test_round_trip_through_a_python_map(local_env):
    schema = parse_schema(SCHEMA)
    source = MemSourceBatchOp([ROW, (None,) * len(ROW)], SCHEMA)
    table = source.getTable()
    assert schema_of_table(table) == schema
    t_env = get_batch_table_env()
    stream = t_env.to_data_stream(table).map(_identity, output_type=row_type_info(schema))

    # Without a schema, Flink derives the types from the TypeInformation: DECIMAL and
    # TIMESTAMP lose their precision, every other kind is kept.
    loose = dict(table_type_strings(t_env.from_data_stream(stream)))
    expected = dict(table_type_strings(table))
    expected.update(
        {
            "dec": "DECIMAL(38, 18)",
            "ts": "TIMESTAMP(9)",
            "ts6": "TIMESTAMP(9)",
            "ltz": "TIMESTAMP_LTZ(9)",
            "adec": "ARRAY<DECIMAL(38, 18)>",
        }
    )
    assert loose == expected

    # With table_schema(schema) every type comes back exactly, and so do the values.
    exact = t_env.from_data_stream(stream, table_schema(schema))
    assert schema_of_table(exact) == schema
    rows = BatchOperator.fromTable(exact).collect()
    assert len(rows) == 2
    # from_elements (MemSource) keeps only milliseconds of a TIMESTAMP.
    expected_row = list(ROW)
    expected_row[12] = datetime.datetime(2024, 1, 2, 3, 4, 5, 123000)
    assert tuple(rows[0]) == tuple(expected_row)
    assert tuple(rows[1]) == (None,) * len(ROW)
    assert isinstance(rows[0][9], bytes)


def test_schema_of_table_reads_precise_types(local_env):
    op = MemSourceBatchOp([], "a DECIMAL(12, 3), b TIMESTAMP(3), c VARCHAR(10), d ARRAY<INT>")
    schema = schema_of_table(op.getTable())
    assert [t.sql() for t in schema.types] == [
        "DECIMAL(12, 3)",
        "TIMESTAMP(3)",
        "STRING",
        "ARRAY<INT>",
    ]
    assert schema.types[1].kind is TypeKind.TIMESTAMP
    # A SQL expression's NOT NULL is kept by Flink's type string and dropped by our schema.
    sel = op.select("a, 1 AS k")
    assert sel.getColTypes() == ["DECIMAL(12, 3)", "INT NOT NULL"]
    assert schema_of_table(sel.getTable()).to_string() == "a DECIMAL(12, 3), k INT"


def test_schema_of_table_rejects_unsupported_types(local_env):
    from bridge.errors import SchemaError

    op = MemSourceBatchOp([(1,)], "a int").select("a, MAP['k', a] AS m")
    with pytest.raises(SchemaError, match="MAP"):
        schema_of_table(op.getTable())


def test_timestamp_microseconds(local_env):
    """Microseconds reach Python functions and collect(), but leave Python as milliseconds."""
    schema = parse_schema("ts TIMESTAMP(6)")
    literal = MemSourceBatchOp([(1,)], "a INT").select(
        "CAST(TIMESTAMP '2024-01-02 03:04:05.123456' AS TIMESTAMP(6)) AS ts"
    )
    micro = datetime.datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert literal.collect()[0][0] == micro

    def check_and_pass(row):
        if row[0] != micro:
            raise ValueError(f"the map saw {row[0]!r}")
        return Row(*row)

    t_env = get_batch_table_env()
    stream = t_env.to_data_stream(literal.getTable())
    stream = stream.map(check_and_pass, output_type=row_type_info(schema))
    out = BatchOperator.fromTable(t_env.from_data_stream(stream, table_schema(schema)))
    assert out.collect()[0][0] == micro.replace(microsecond=123000)
