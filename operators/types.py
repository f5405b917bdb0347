"""Mapping between akdl's column types (`bridge.schema`) and PyFlink's type systems.

Runs in the Flink driver. Three PyFlink type systems meet here:

* Table API `DataType` (``DataTypes.BIGINT()``), used by tables and SQL;
* DataStream API `TypeInformation` (``Types.LONG()``), used by Python functions on streams;
* the string form of a Java ``DataType`` (``"DECIMAL(10, 2)"``), which `bridge.schema` parses.

Measured on PyFlink 2.3 (``tests/e2e/test_types.py`` pins each point):

* ``str()`` of a *Python* ``DataType`` is lossy (``"DECIMAL"``, ``"ARRAY"``, ``"VARCHAR"``),
  so `table_type_strings` / `schema_of_table` read the Java resolved schema instead, which
  prints ``"DECIMAL(10, 2)"``, ``"ARRAY<DOUBLE>"``, ``"STRING"``, ``"INT NOT NULL"``.
* Table -> ``t_env.to_data_stream`` -> Python ``map(output_type=row_type_info(schema))`` ->
  ``t_env.from_data_stream(ds)`` keeps every kind's type except:

  - ``DECIMAL(p, s)`` comes back as ``DECIMAL(38, 18)`` (``Types.BIG_DEC()`` carries no
    precision), also inside arrays; values keep their numeric value;
  - ``TIMESTAMP(p)`` comes back as ``TIMESTAMP(9)``, ``TIMESTAMP_LTZ(p)`` as
    ``TIMESTAMP_LTZ(9)``.

  ``t_env.from_data_stream(ds, table_schema(schema))`` restores every type exactly. That
  schema must declare the DataStream-side conversion classes (``java.sql.Timestamp``,
  ``java.sql.Date``), which ``to_data_type(ft, bridged=True)`` does; without them the job
  fails with ``ClassCastException: java.sql.Timestamp cannot be cast to LocalDateTime``.
  A DECIMAL value that does not fit the declared precision becomes NULL; extra fractional
  digits are rounded (Flink's behaviour, also in ``from_elements``).
* What Python functions see: TINYINT..BIGINT ``int``; FLOAT/DOUBLE ``float``; DECIMAL
  ``decimal.Decimal``; BYTES ``bytearray``; DATE ``datetime.date``; TIMESTAMP a naive
  ``datetime`` with microseconds; TIMESTAMP_LTZ a ``pyflink.common.time.Instant`` (not a
  datetime); ARRAY a ``list``.
* Timestamps *leaving* Python keep only milliseconds: a map's ``Types.SQL_TIMESTAMP()`` output
  and ``t_env.from_elements`` both drop the microseconds. Java-side sources (SQL, CSV,
  datagen) keep them, and so does `operators.base` ``collect()`` (Arrow).
* PyFlink's own ``TableResult.collect()`` fails on an ``ARRAY`` holding a NULL *element*
  (``EOFError: Ran out of input``) and on any TIMESTAMP_LTZ column (``PickleException``), and
  cuts timestamps to milliseconds; `operators.base` collects through Arrow instead.
* ``from_elements`` accepts only ``bytearray`` for BYTES (not ``bytes``) and only ``float``
  for FLOAT/DOUBLE (not ``int``); `operators.sources.MemSourceBatchOp` converts.
"""

from __future__ import annotations

from pyflink.common.typeinfo import TypeInformation, Types
from pyflink.table import DataTypes, Table
from pyflink.table import Schema as TableSchema
from pyflink.table.types import DataType

from bridge.errors import SchemaError
from bridge.schema import Field, FieldType, Schema, TypeKind, parse_type

__all__ = [
    "row_data_type",
    "row_type_info",
    "schema_of_table",
    "table_schema",
    "table_type_strings",
    "to_data_type",
    "to_type_info",
]

# Flink's default TIMESTAMP precision, used when a schema string gives none.
_DEFAULT_TIMESTAMP_PRECISION = 6

_SCALAR_DATA_TYPES = {
    TypeKind.TINYINT: DataTypes.TINYINT,
    TypeKind.SMALLINT: DataTypes.SMALLINT,
    TypeKind.INT: DataTypes.INT,
    TypeKind.BIGINT: DataTypes.BIGINT,
    TypeKind.BOOLEAN: DataTypes.BOOLEAN,
    TypeKind.FLOAT: DataTypes.FLOAT,
    TypeKind.DOUBLE: DataTypes.DOUBLE,
    TypeKind.STRING: DataTypes.STRING,
    TypeKind.BYTES: DataTypes.BYTES,
    TypeKind.DATE: DataTypes.DATE,
}

_SCALAR_TYPE_INFOS = {
    TypeKind.TINYINT: Types.BYTE,
    TypeKind.SMALLINT: Types.SHORT,
    TypeKind.INT: Types.INT,
    TypeKind.BIGINT: Types.LONG,
    TypeKind.BOOLEAN: Types.BOOLEAN,
    TypeKind.FLOAT: Types.FLOAT,
    TypeKind.DOUBLE: Types.DOUBLE,
    TypeKind.STRING: Types.STRING,
    TypeKind.DECIMAL: Types.BIG_DEC,
    TypeKind.DATE: Types.SQL_DATE,
}

# Element kinds Flink's BasicArrayTypeInfo supports; others need an ObjectArrayTypeInfo.
_BASIC_ARRAY_KINDS = {
    TypeKind.TINYINT,
    TypeKind.SMALLINT,
    TypeKind.INT,
    TypeKind.BIGINT,
    TypeKind.BOOLEAN,
    TypeKind.FLOAT,
    TypeKind.DOUBLE,
    TypeKind.STRING,
}


def _timestamp_precision(ft: FieldType) -> int:
    return _DEFAULT_TIMESTAMP_PRECISION if ft.precision is None else ft.precision


def to_data_type(ft: FieldType, bridged: bool = False) -> DataType:
    """The Table API type of a column type.

    Args:
        ft: the column type.
        bridged: declare the conversion classes that PyFlink's DataStream side produces
            (``java.sql.Date`` for DATE, ``java.sql.Timestamp`` for TIMESTAMP). Needed only in
            a schema handed to ``from_data_stream`` for a stream built by Python functions;
            see `table_schema`.

    Returns:
        A nullable PyFlink ``DataType``, e.g. ``DataTypes.DECIMAL(10, 2)``. A TIMESTAMP without
        precision gets Flink's default, 6.
    """
    kind = ft.kind
    if kind is TypeKind.ARRAY:
        assert ft.element is not None  # guaranteed by FieldType
        return DataTypes.ARRAY(to_data_type(ft.element, bridged))
    if kind is TypeKind.DECIMAL:
        return DataTypes.DECIMAL(ft.precision, ft.scale)
    if kind is TypeKind.TIMESTAMP:
        precision = _timestamp_precision(ft)
        if ft.local_time_zone:
            return DataTypes.TIMESTAMP_LTZ(precision)
        data_type = DataTypes.TIMESTAMP(precision)
        return data_type.bridged_to("java.sql.Timestamp") if bridged else data_type
    data_type = _SCALAR_DATA_TYPES[kind]()
    if bridged and kind is TypeKind.DATE:
        return data_type.bridged_to("java.sql.Date")
    return data_type


def to_type_info(ft: FieldType) -> TypeInformation:
    """The DataStream type of a column type, for ``output_type=`` of Python functions.

    ``BYTES`` is ``Types.PRIMITIVE_ARRAY(Types.BYTE())`` (Python ``bytes``/``bytearray``);
    arrays of numbers, booleans and strings are ``Types.BASIC_ARRAY``, other arrays
    ``Types.OBJECT_ARRAY``. DECIMAL and TIMESTAMP lose their precision here (see the module
    docstring); `table_schema` restores it.

    Args:
        ft: the column type.

    Returns:
        The PyFlink ``TypeInformation``.
    """
    kind = ft.kind
    if kind is TypeKind.ARRAY:
        assert ft.element is not None  # guaranteed by FieldType
        element = to_type_info(ft.element)
        if ft.element.kind in _BASIC_ARRAY_KINDS:
            return Types.BASIC_ARRAY(element)
        return Types.OBJECT_ARRAY(element)
    if kind is TypeKind.BYTES:
        return Types.PRIMITIVE_ARRAY(Types.BYTE())
    if kind is TypeKind.TIMESTAMP:
        return Types.INSTANT() if ft.local_time_zone else Types.SQL_TIMESTAMP()
    return _SCALAR_TYPE_INFOS[kind]()


def row_type_info(schema: Schema) -> TypeInformation:
    """The named-row DataStream type of a schema: ``Types.ROW_NAMED(names, types)``.

    Args:
        schema: the columns.

    Returns:
        The PyFlink ``TypeInformation`` of a ``Row`` with these fields.
    """
    return Types.ROW_NAMED(schema.names, [to_type_info(t) for t in schema.types])


def row_data_type(schema: Schema) -> DataType:
    """The Table API row type of a schema, e.g. for ``t_env.from_elements``.

    Args:
        schema: the columns.

    Returns:
        ``DataTypes.ROW`` of nullable fields.
    """
    return DataTypes.ROW([DataTypes.FIELD(f.name, to_data_type(f.type)) for f in schema.fields])


def table_schema(schema: Schema, bridged: bool = True) -> TableSchema:
    """A PyFlink table ``Schema`` (physical columns only) for a schema.

    Hand it to ``t_env.from_data_stream(ds, table_schema(schema))`` to get a table whose column
    types are exactly the declared ones, DECIMAL and TIMESTAMP precision included.

    Args:
        schema: the columns.
        bridged: declare the DataStream-side conversion classes; see `to_data_type`.

    Returns:
        The ``pyflink.table.Schema``.
    """
    builder = TableSchema.new_builder()
    for f in schema.fields:
        builder = builder.column(f.name, to_data_type(f.type, bridged))
    return builder.build()


def table_type_strings(table: Table) -> list[tuple[str, str]]:
    """The columns of a table with Flink's own type strings.

    Args:
        table: a PyFlink table.

    Returns:
        ``(name, type)`` pairs, e.g. ``("label", "INT NOT NULL")``, ``("v", "ARRAY<DOUBLE>")``,
        in column order; read from the Java resolved schema, which keeps precision.
    """
    j_schema = table._j_table.getResolvedSchema()
    return [(str(c.getName()), str(c.getDataType().toString())) for c in j_schema.getColumns()]


def schema_of_table(table: Table) -> Schema:
    """The schema of a table in akdl's types.

    Lengths of VARCHAR/VARBINARY, NOT NULL and time-attribute markers are dropped; DECIMAL and
    TIMESTAMP keep their precision.

    Args:
        table: a PyFlink table.

    Returns:
        The parsed schema.

    Raises:
        SchemaError: a column has a type akdl cannot carry (MAP, ROW, TIME, ...); the message
            names the column and quotes the type.
    """
    fields = []
    for name, type_text in table_type_strings(table):
        try:
            fields.append(Field(name, parse_type(type_text)))
        except SchemaError as e:
            described = ", ".join(f"{n} {t}" for n, t in table_type_strings(table))
            raise SchemaError(described, f"{name} {type_text}", e.problem) from None
    return Schema(tuple(fields))
