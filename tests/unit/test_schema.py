"""Schema strings: every accepted spelling, round trips, and every error case."""

import pytest

from bridge.errors import AkdlError, SchemaError
from bridge.schema import (
    ColumnNotFoundError,
    FeatureKind,
    Field,
    FieldType,
    Schema,
    TypeKind,
    parse_schema,
    parse_type,
)

T = TypeKind

ACCEPTED = [
    # Alink names
    ("long", FieldType(T.BIGINT)),
    ("int", FieldType(T.INT)),
    ("integer", FieldType(T.INT)),
    ("short", FieldType(T.SMALLINT)),
    ("byte", FieldType(T.TINYINT)),
    ("double", FieldType(T.DOUBLE)),
    ("float", FieldType(T.FLOAT)),
    ("string", FieldType(T.STRING)),
    ("boolean", FieldType(T.BOOLEAN)),
    ("bool", FieldType(T.BOOLEAN)),
    ("bytes", FieldType(T.BYTES)),
    ("date", FieldType(T.DATE)),
    ("timestamp", FieldType(T.TIMESTAMP)),
    ("decimal", FieldType(T.DECIMAL, precision=10, scale=0)),
    ("bigint", FieldType(T.BIGINT)),
    ("tinyint", FieldType(T.TINYINT)),
    ("smallint", FieldType(T.SMALLINT)),
    ("varchar", FieldType(T.STRING)),
    # Flink SQL, as DataType.toString() prints it
    ("BIGINT", FieldType(T.BIGINT)),
    ("INT", FieldType(T.INT)),
    ("INTEGER", FieldType(T.INT)),
    ("DOUBLE", FieldType(T.DOUBLE)),
    ("DOUBLE PRECISION", FieldType(T.DOUBLE)),
    ("FLOAT", FieldType(T.FLOAT)),
    ("REAL", FieldType(T.FLOAT)),
    ("BOOLEAN", FieldType(T.BOOLEAN)),
    ("STRING", FieldType(T.STRING)),
    ("VARCHAR(2147483647)", FieldType(T.STRING)),
    ("VARCHAR(20)", FieldType(T.STRING)),
    ("CHAR(1)", FieldType(T.STRING)),
    ("VARBINARY(2147483647)", FieldType(T.BYTES)),
    ("BINARY(16)", FieldType(T.BYTES)),
    ("BYTES", FieldType(T.BYTES)),
    ("DECIMAL(10, 2)", FieldType(T.DECIMAL, precision=10, scale=2)),
    ("DECIMAL(10,2)", FieldType(T.DECIMAL, precision=10, scale=2)),
    ("DECIMAL(38, 18)", FieldType(T.DECIMAL, precision=38, scale=18)),
    ("DECIMAL(5)", FieldType(T.DECIMAL, precision=5, scale=0)),
    ("NUMERIC(7, 3)", FieldType(T.DECIMAL, precision=7, scale=3)),
    ("DEC", FieldType(T.DECIMAL, precision=10, scale=0)),
    ("DATE", FieldType(T.DATE)),
    ("TIMESTAMP", FieldType(T.TIMESTAMP)),
    ("TIMESTAMP(3)", FieldType(T.TIMESTAMP, precision=3)),
    ("TIMESTAMP(6) WITHOUT TIME ZONE", FieldType(T.TIMESTAMP, precision=6)),
    ("TIMESTAMP WITHOUT TIME ZONE", FieldType(T.TIMESTAMP)),
    ("TIMESTAMP_LTZ(3)", FieldType(T.TIMESTAMP, precision=3, local_time_zone=True)),
    (
        "TIMESTAMP(3) WITH LOCAL TIME ZONE",
        FieldType(T.TIMESTAMP, precision=3, local_time_zone=True),
    ),
    ("TIMESTAMP(3) *ROWTIME*", FieldType(T.TIMESTAMP, precision=3)),
    (
        "TIMESTAMP_LTZ(3) NOT NULL *PROCTIME*",
        FieldType(T.TIMESTAMP, precision=3, local_time_zone=True),
    ),
    ("ARRAY<DOUBLE>", FieldType(T.ARRAY, element=FieldType(T.DOUBLE))),
    ("ARRAY<STRING>", FieldType(T.ARRAY, element=FieldType(T.STRING))),
    ("array<long>", FieldType(T.ARRAY, element=FieldType(T.BIGINT))),
    (
        "ARRAY<DECIMAL(10, 2)>",
        FieldType(T.ARRAY, element=FieldType(T.DECIMAL, precision=10, scale=2)),
    ),
    # nullability anywhere a type appears, any case, any spacing
    ("BIGINT NOT NULL", FieldType(T.BIGINT)),
    ("BIGINT NULL", FieldType(T.BIGINT)),
    ("ARRAY<DOUBLE NOT NULL> NOT NULL", FieldType(T.ARRAY, element=FieldType(T.DOUBLE))),
    ("  Double   not   null ", FieldType(T.DOUBLE)),
    ("LoNg", FieldType(T.BIGINT)),
    ("array < double >", FieldType(T.ARRAY, element=FieldType(T.DOUBLE))),
]


@pytest.mark.parametrize("text, expected", ACCEPTED, ids=[a for a, _ in ACCEPTED])
def test_accepted_spellings(text, expected):
    assert parse_type(text) == expected
    # The canonical spelling parses back to the same type.
    assert parse_type(expected.sql()) == expected


@pytest.mark.parametrize(
    "ftype, sql",
    [
        (FieldType(T.BIGINT), "BIGINT"),
        (FieldType(T.DOUBLE), "DOUBLE"),
        (FieldType(T.STRING), "STRING"),
        (FieldType(T.BYTES), "BYTES"),
        (FieldType(T.DECIMAL, precision=10, scale=2), "DECIMAL(10, 2)"),
        (FieldType(T.DECIMAL), "DECIMAL(10, 0)"),
        (FieldType(T.TIMESTAMP, precision=3), "TIMESTAMP(3)"),
        (FieldType(T.TIMESTAMP), "TIMESTAMP"),
        (FieldType(T.TIMESTAMP, precision=3, local_time_zone=True), "TIMESTAMP_LTZ(3)"),
        (FieldType(T.DATE), "DATE"),
        (FieldType(T.ARRAY, element=FieldType(T.DOUBLE)), "ARRAY<DOUBLE>"),
    ],
)
def test_sql_spelling(ftype, sql):
    assert ftype.sql() == sql
    assert str(ftype) == sql


@pytest.mark.parametrize(
    "text, kind",
    [
        ("tinyint", FeatureKind.INT64),
        ("smallint", FeatureKind.INT64),
        ("int", FeatureKind.INT64),
        ("long", FeatureKind.INT64),
        ("boolean", FeatureKind.INT64),
        ("date", FeatureKind.INT64),
        ("timestamp", FeatureKind.INT64),
        ("float", FeatureKind.FLOAT),
        ("double", FeatureKind.FLOAT),
        ("decimal(5, 2)", FeatureKind.FLOAT),
        ("string", FeatureKind.BYTES),
        ("bytes", FeatureKind.BYTES),
        ("array<double>", FeatureKind.FLOAT),
        ("array<long>", FeatureKind.INT64),
        ("array<string>", FeatureKind.BYTES),
    ],
)
def test_feature_kind(text, kind):
    assert parse_type(text).feature_kind is kind


def test_parse_schema_basic():
    s = parse_schema("id long, text string, vec ARRAY<DOUBLE>, price DECIMAL(10, 2)")
    assert s.names == ["id", "text", "vec", "price"]
    assert [t.sql() for t in s.types] == ["BIGINT", "STRING", "ARRAY<DOUBLE>", "DECIMAL(10, 2)"]
    assert len(s) == 4
    assert [f.name for f in s] == s.names
    assert s.fields[0] == Field("id", FieldType(T.BIGINT))
    assert s.to_string() == "id BIGINT, text STRING, vec ARRAY<DOUBLE>, price DECIMAL(10, 2)"
    assert str(s) == s.to_string()


def test_commas_inside_brackets_do_not_split():
    s = parse_schema("a DECIMAL(10, 2), b ARRAY<DECIMAL(5, 1)>, c long")
    assert s.names == ["a", "b", "c"]
    assert s.types[1].element == FieldType(T.DECIMAL, precision=5, scale=1)


def test_backtick_names():
    s = parse_schema("`my col` long, `a,b` ARRAY<STRING>, `x``y` double, `long` int")
    assert s.names == ["my col", "a,b", "x`y", "long"]
    assert s.to_string() == "`my col` BIGINT, `a,b` ARRAY<STRING>, `x``y` DOUBLE, long INT"


def test_whitespace_and_newlines():
    s = parse_schema("\n  a   long ,\n\tb\tARRAY< DOUBLE >  NOT NULL\n")
    assert s.names == ["a", "b"]
    assert s.types[1].sql() == "ARRAY<DOUBLE>"


@pytest.mark.parametrize(
    "text",
    [
        "a BIGINT",
        "model_id long, model_info string",
        "a tinyint, b smallint, c int, d bigint, e boolean, f float, g double, h decimal(12, 4)",
        "s string, b bytes, d date, t timestamp, t3 TIMESTAMP(3), l TIMESTAMP_LTZ(6)",
        "v ARRAY<DOUBLE>, w ARRAY<STRING>, x ARRAY<BOOLEAN>, y ARRAY<DATE>, z ARRAY<BYTES>",
        "`with space` long, `tick``in` string, `9starts_with_digit` double, `a-b` int",
        "`unicode é` STRING, ` `` ` long",
    ],
)
def test_to_string_round_trip(text):
    s = parse_schema(text)
    again = parse_schema(s.to_string())
    assert again == s
    assert again.to_string() == s.to_string()


def test_index_of_and_select():
    s = parse_schema("a long, b string, c double")
    assert s.index_of("c") == 2
    assert "b" in s and "z" not in s
    sub = s.select(["c", "a"])
    assert sub.names == ["c", "a"]
    assert sub.types == [FieldType(T.DOUBLE), FieldType(T.BIGINT)]
    with pytest.raises(ColumnNotFoundError) as e:
        s.index_of("z")
    assert isinstance(e.value, AkdlError) and isinstance(e.value, KeyError)
    assert "'z'" in str(e.value) and "a, b, c" in str(e.value)
    with pytest.raises(ColumnNotFoundError, match="a, b, c"):
        s.select(["a", "nope"])


def test_schema_is_hashable_and_comparable():
    a = parse_schema("a long, b string")
    b = Schema((Field("a", FieldType(T.BIGINT)), Field("b", FieldType(T.STRING))))
    assert a == b and hash(a) == hash(b)
    assert Schema([Field("a", FieldType(T.BIGINT))]).fields == (Field("a", FieldType(T.BIGINT)),)


def test_programmatic_duplicate_rejected():
    with pytest.raises(SchemaError, match="duplicate column name: 'a'"):
        Schema((Field("a", FieldType(T.BIGINT)), Field("a", FieldType(T.STRING))))


@pytest.mark.parametrize(
    "text, part, problem",
    [
        ("model_info strin", "strin", "unknown type"),
        ("a long, b dubble", "dubble", "unknown type"),
        ("a ARRAY<strin>", "strin", "unknown type"),
        ("a, b long", "a", "missing type"),
        ("a long, b", "b", "missing type"),
        ("`a b`", "`a b`", "missing type"),
        ("a long, a int", "a", "duplicate column name"),
        ("", "", "empty schema"),
        ("   ", "   ", "empty schema"),
        ("a long,", "a long,", "empty column definition"),
        ("a long,,b int", "a long,,", "empty column definition"),
        (",a long", ",", "empty column definition"),
        ("a ARRAY<DOUBLE", "a ARRAY<DOUBLE", "unbalanced brackets"),
        ("a DOUBLE>", "a DOUBLE>", "unbalanced brackets"),
        ("a DECIMAL(10, 2", "a DECIMAL(10, 2", "unbalanced brackets"),
        ("a DECIMAL(10, 2>", "a DECIMAL(10, 2>", "unbalanced brackets"),
        ("`a long", "`a long", "unterminated backtick quote"),
        ("a MAP<STRING, INT>", "MAP", "unsupported type"),
        ("a ROW<x INT>", "ROW", "unsupported type"),
        ("a MULTISET<INT>", "MULTISET", "unsupported type"),
        ("a TIME", "TIME", "unsupported type"),
        ("a DENSE_VECTOR", "DENSE_VECTOR", "unsupported type"),
        ("a TIMESTAMP(3) WITH TIME ZONE", "TIMESTAMP(3) WITH TIME ZONE", "unsupported type"),
        ("a ARRAY<MAP<STRING, INT>>", "MAP", "unsupported type"),
        ("a ARRAY<ARRAY<DOUBLE>>", "ARRAY<ARRAY<DOUBLE>>", "nested arrays are not supported"),
        ("a ARRAY", "ARRAY", "ARRAY needs an element type"),
        ("a DECIMAL(50, 2)", "DECIMAL(50, 2)", "precision must be between 1 and 38"),
        ("a DECIMAL(3, 4)", "DECIMAL(3, 4)", "scale must not exceed its precision"),
        ("a DECIMAL(1, 2, 3)", "DECIMAL(1, 2, 3)", "takes at most 2"),
        ("a TIMESTAMP(10)", "TIMESTAMP(10)", "precision must be between 0 and 9"),
        ("a INT(11)", "INT(11)", "INT takes no arguments"),
        ("a VARCHAR(x)", "VARCHAR(x", "expected a number"),
        ("a long extra", "extra", "unexpected text after the type"),
        ("a<b long", "a<b long", "unbalanced brackets"),
    ],
)
def test_errors_quote_the_offending_part(text, part, problem):
    with pytest.raises(SchemaError) as e:
        parse_schema(text)
    err = e.value
    assert err.part == part
    assert problem in err.problem
    assert err.schema == text
    assert repr(part) in str(err)
    assert problem in str(err)
    assert isinstance(err, ValueError)


def test_parse_type_errors_quote_the_type():
    with pytest.raises(SchemaError, match="unknown type: 'strin'"):
        parse_type("strin")
    with pytest.raises(SchemaError, match="missing type"):
        parse_type("  ")


def test_non_string_schema():
    with pytest.raises(SchemaError, match="must be a string"):
        parse_schema(None)  # type: ignore[arg-type]


def test_field_type_invariants():
    with pytest.raises(ValueError):
        FieldType(T.ARRAY)
    with pytest.raises(ValueError):
        FieldType(T.ARRAY, element=FieldType(T.ARRAY, element=FieldType(T.INT)))
    with pytest.raises(ValueError):
        FieldType(T.INT, element=FieldType(T.INT))
    with pytest.raises(ValueError):
        FieldType(T.INT, scale=2)
    with pytest.raises(ValueError):
        FieldType(T.INT, precision=2)
    with pytest.raises(ValueError):
        FieldType(T.DATE, local_time_zone=True)
