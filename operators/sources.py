"""Source operators: random data, in-memory rows, an existing Table, and CSV files.

Runs in the Flink driver. Every source builds its Table lazily, from its current parameters,
the first time its output is needed; setting a parameter afterwards rebuilds it on next use.
Rows are produced on the Java side (datagen, CSV reader) except for `MemSourceBatchOp`, whose
rows are shipped from the driver.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from pyflink.common import WatermarkStrategy
from pyflink.datastream.connectors.file_system import FileSource
from pyflink.datastream.formats.csv import CsvReaderFormat
from pyflink.java_gateway import get_gateway
from pyflink.table import DataTypes, Table, TableDescriptor
from pyflink.table import Schema as TableSchema
from pyflink.table.types import _to_java_data_type

from bridge.errors import ParamError, SchemaError
from bridge.name_lists import parse_name_list
from bridge.schema import parse_schema
from operators._mem_rows import coerce_rows, rows_of
from operators.base import BatchOperator, LinkError, StreamOperator, _TableOperator
from operators.env import get_batch_env, get_parallelism
from operators.params import Param, at_least
from operators.types import row_data_type

__all__ = [
    "CsvSourceBatchOp",
    "MemSourceBatchOp",
    "MemSourceStreamOp",
    "RandomTableSourceBatchOp",
    "RandomTableSourceStreamOp",
    "TableSourceBatchOp",
    "TableSourceStreamOp",
]


def _check_schema_str(text: str) -> None:
    try:
        parse_schema(text)
    except SchemaError as e:
        raise ValueError(f"is not a valid schema: {e}") from None


def _unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class _Source(_TableOperator):
    """A source: takes no inputs; rebuilds its output when a parameter changes."""

    def linkFrom(self, *ops: Any) -> Any:
        """Sources take no inputs.

        Raises:
            LinkError: always.
        """
        raise LinkError(f"{self._operator_name()} is a source; it cannot be linked from inputs")

    def _on_params_changed(self) -> None:
        self._table = None

    def _build_table(self) -> Table:
        self._check_required()
        return self._create_table()

    def _create_table(self) -> Table:
        raise NotImplementedError


# --- random data -------------------------------------------------------------------------------


# datagen's own default is 10k rows/s; this is "as fast as the job can take them".
_UNTHROTTLED_ROWS_PER_SECOND = 1_000_000_000


class _RandomTableSource(_Source):
    PARAMS = (
        Param(
            "numCols",
            int,
            doc="number of random DOUBLE columns; may be left out when outputCols is set",
            validate=at_least(1),
        ),
        Param("idCol", str, doc="name of a leading BIGINT id column holding 0..n-1"),
        Param(
            "outputCols",
            list,
            doc="names of the random columns (default col0..col{numCols-1}); list or JSON",
            convert=parse_name_list,
        ),
    )

    def _rows_per_second(self) -> int:
        """The generation rate limit per source subtask: none for batch sources."""
        return _UNTHROTTLED_ROWS_PER_SECOND

    def _column_names(self) -> list[str]:
        num_cols = self._get_param("numCols")
        output_cols = self._get_param("outputCols")
        if output_cols is None:
            if num_cols is None:
                raise ParamError(
                    self._operator_name(), "numCols", "is required (or set outputCols)"
                )
            names = [f"col{i}" for i in range(num_cols)]
        else:
            if num_cols is not None and num_cols != len(output_cols):
                raise ParamError(
                    self._operator_name(),
                    "outputCols",
                    f"has {len(output_cols)} names but numCols is {num_cols}",
                )
            names = output_cols
        id_col = self._get_param("idCol")
        all_names = ([id_col] if id_col else []) + names
        if not names or len(set(all_names)) != len(all_names):
            raise ParamError(
                self._operator_name(),
                "outputCols" if output_cols is not None else "idCol",
                f"gives empty or duplicate column names: {all_names}",
            )
        return names

    def _datagen(self, num_rows: int | None) -> Table:
        names = self._column_names()
        id_col = self._get_param("idCol")
        schema = TableSchema.new_builder()
        if id_col:
            schema = schema.column(id_col, DataTypes.BIGINT())
        for name in names:
            schema = schema.column(name, DataTypes.DOUBLE())
        builder = TableDescriptor.for_connector("datagen").schema(schema.build())
        builder = builder.option("scan.parallelism", str(get_parallelism()))
        # datagen throttles to 10k rows/s unless told otherwise.
        builder = builder.option("rows-per-second", str(self._rows_per_second()))
        if num_rows is not None:
            builder = builder.option("number-of-rows", str(num_rows))
        if id_col:
            if num_rows is None:
                # datagen holds a sequence's every value in memory before the first row.
                raise ParamError(self._operator_name(), "idCol",
                                 "needs maxRows: an unbounded stream has no id sequence")
            if num_rows:
                builder = builder.option(f"fields.{id_col}.kind", "sequence")
                builder = builder.option(f"fields.{id_col}.start", "0")
                builder = builder.option(f"fields.{id_col}.end", str(num_rows - 1))
            else:  # a sequence cannot be empty; no row is produced anyway
                builder = builder.option(f"fields.{id_col}.min", "0")
                builder = builder.option(f"fields.{id_col}.max", "0")
        for name in names:
            builder = builder.option(f"fields.{name}.kind", "random")
            builder = builder.option(f"fields.{name}.min", "0")
            builder = builder.option(f"fields.{name}.max", "1")
        return self._table_env().from_descriptor(builder.build())


class RandomTableSourceBatchOp(_RandomTableSource, BatchOperator):
    """A table of uniformly random DOUBLEs in [0, 1), generated on the Java side.

    Uses Flink's ``datagen`` connector with the default parallelism; the table has exactly
    ``numRows`` rows, split over the source subtasks. With ``idCol`` set, a BIGINT column of
    that name comes first and holds 0..numRows-1, each once. Unlike Alink, no id column is
    added unless ``idCol`` is set, and no per-column distributions are offered.

    Example:
        ``RandomTableSourceBatchOp().setNumRows(100).setNumCols(10).getColNames()`` is
        ``["col0", ..., "col9"]``.
    """

    PARAMS = (Param("numRows", int, required=True, doc="number of rows", validate=at_least(0)),)

    def _create_table(self) -> Table:
        return self._datagen(self._get_param("numRows"))


class RandomTableSourceStreamOp(_RandomTableSource, StreamOperator):
    """A stream of uniformly random DOUBLEs in [0, 1), generated on the Java side.

    Like `RandomTableSourceBatchOp`; ``maxRows`` bounds the stream (Alink's name), and without
    it the stream runs until cancelled. The id column (``idCol``, which needs ``maxRows``)
    counts 0..maxRows-1.
    """

    PARAMS = (
        Param("maxRows", int, validate=at_least(0),
              doc="number of rows (default: unbounded)"),
        Param("rowsPerSecond", int, validate=at_least(1),
              doc="generation rate per source subtask (default: unthrottled)"),
    )

    def _rows_per_second(self) -> int:
        return self._get_param("rowsPerSecond") or _UNTHROTTLED_ROWS_PER_SECOND

    def _create_table(self) -> Table:
        return self._datagen(self._get_param("maxRows"))


# --- in-memory rows ----------------------------------------------------------------------------


class _MemSource(_Source):
    PARAMS = (
        Param(
            "schemaStr",
            str,
            required=True,
            doc='schema of the rows, e.g. "id long, text string"',
            validate=_check_schema_str,
        ),
    )

    def __init__(self, rows: Any = None, schemaStr: str | None = None, **kwargs: Any):  # noqa: N803
        self._rows: list[Any] = []
        super().__init__(**kwargs)
        if schemaStr is not None:
            self._set_param("schemaStr", schemaStr)
        if rows is not None:
            self.setRows(rows)

    def setRows(self, rows: Any) -> Any:
        """Sets the rows.

        Args:
            rows: a list of tuples/lists (or of scalars for a one-column schema), or a pandas
                DataFrame whose columns are in schema order.

        Returns:
            This operator.

        Raises:
            ParamError: ``rows`` is not a list of rows.
        """
        try:
            self._rows = rows_of(rows)
        except TypeError as e:
            raise ParamError(self._operator_name(), "rows", str(e)) from None
        self._table = None
        return self

    def getRows(self) -> list[Any]:
        """The rows as set.

        Returns:
            A new list of the rows.
        """
        return list(self._rows)

    def _create_table(self) -> Table:
        schema = parse_schema(self._get_param("schemaStr"))
        rows = coerce_rows(self._operator_name(), schema, self._rows)
        return self._table_env().from_elements(rows, row_data_type(schema))


class MemSourceBatchOp(_MemSource, BatchOperator):
    """A table of rows given in the program, typed by a schema string.

    Values are converted where lossless: ints for FLOAT/DOUBLE/DECIMAL columns, ``bytes`` for
    BYTES, ISO strings for DATE/TIMESTAMP, numpy scalars. ``None`` is NULL. A value that does
    not fit its column raises `bridge.errors.SchemaMismatchError` naming the column and row.

    Example:
        ``MemSourceBatchOp([(1, "a"), (2, None)], "id long, text string").getSchemaStr()`` is
        ``"id BIGINT, text STRING"``.

    Args:
        rows: the rows (see `setRows`), positionally as in Alink.
        schemaStr: the schema string, positionally as in Alink.
        **kwargs: other parameters, as keywords.
    """


class MemSourceStreamOp(_MemSource, StreamOperator):
    """A bounded stream of rows given in the program; see `MemSourceBatchOp`.

    Args:
        rows: the rows (see `setRows`).
        schemaStr: the schema string.
        **kwargs: other parameters, as keywords.
    """


# --- an existing table -------------------------------------------------------------------------


class _TableSource(_Source):
    def __init__(self, table: Table | None = None, **kwargs: Any):
        self._source_table: Table | None = None
        super().__init__(**kwargs)
        if table is not None:
            self.setTable(table)

    def setTable(self, table: Table) -> Any:
        """Sets the PyFlink table to wrap.

        Args:
            table: a table of the matching (batch or streaming) table environment.

        Returns:
            This operator.

        Raises:
            ParamError: ``table`` is not a PyFlink ``Table``.
        """
        if not isinstance(table, Table):
            raise ParamError(
                self._operator_name(), "table", f"must be a pyflink Table, got {type(table)}"
            )
        self._source_table = table
        self._table = None
        return self

    def _create_table(self) -> Table:
        if self._source_table is None:
            raise ParamError(self._operator_name(), "table", "is required")
        return self._source_table


class TableSourceBatchOp(_TableSource, BatchOperator):
    """Wraps an existing PyFlink ``Table`` of a batch-mode table environment.

    Args:
        table: the table.
        **kwargs: other parameters, as keywords.
    """


class TableSourceStreamOp(_TableSource, StreamOperator):
    """Wraps an existing PyFlink ``Table`` of a streaming-mode table environment.

    Args:
        table: the table.
        **kwargs: other parameters, as keywords.
    """


# --- CSV files ---------------------------------------------------------------------------------


def _single_char(value: str) -> None:
    if len(value) != 1:
        raise ValueError(f"must be a single character, got {value!r}")


class CsvSourceBatchOp(_Source, BatchOperator):
    """Reads CSV files into a table, on the Java side.

    Uses Flink's CSV reader (Jackson) through a ``FileSource``; each file is read by one
    subtask from start to end, so ``ignoreFirstLine`` skips the header of every file. Quoted
    fields may hold the delimiter. Empty fields are NULL, in every column type (strings too).
    ARRAY columns hold elements separated by ``;``. DATE is ``yyyy-MM-dd``; TIMESTAMP is
    ``yyyy-MM-dd HH:mm:ss[.fff]``. A field that does not parse fails the job, naming the column.

    Example:
        ``CsvSourceBatchOp(file_path="iris.csv", schema_str="a double, label string")``, or
        ``CsvSourceBatchOp().setFilePath("iris.csv").setSchemaStr("a double, label string")``.
    """

    PARAMS = (
        Param(
            "filePath",
            str,
            required=True,
            doc="a file or directory; a local path or a URI Flink understands",
        ),
        Param(
            "schemaStr",
            str,
            required=True,
            doc='schema of the columns, in file order, e.g. "f0 double, label string"',
            validate=_check_schema_str,
        ),
        Param("fieldDelimiter", str, default=",", doc="field separator", validate=_single_char),
        Param("quoteChar", str, default='"', doc="quote character", validate=_single_char),
        Param("ignoreFirstLine", bool, default=False, doc="skip the first line of every file"),
    )

    def _path(self) -> str:
        path = self._get_param("filePath")
        if "://" in path or path.startswith("file:"):
            return path
        absolute = os.path.abspath(os.path.expanduser(path))
        if not os.path.exists(absolute):
            raise ParamError(self._operator_name(), "filePath", f"does not exist: {absolute}")
        return absolute

    def _create_table(self) -> Table:
        schema = parse_schema(self._get_param("schemaStr"))
        j_row_type = _to_java_data_type(row_data_type(schema))
        jvm = get_gateway().jvm
        j_csv_schema = (
            jvm.org.apache.flink.formats.csv.CsvRowSchemaConverter.convert(
                j_row_type.getLogicalType()
            )
            .rebuild()
            .setColumnSeparator(self._get_param("fieldDelimiter"))
            .setQuoteChar(self._get_param("quoteChar"))
            .setSkipFirstDataRow(self._get_param("ignoreFirstLine"))
            .setNullValue("")
            .build()
        )
        reader = CsvReaderFormat(
            jvm.org.apache.flink.formats.csv.PythonCsvUtils.createCsvReaderFormat(
                j_csv_schema, j_row_type
            )
        )
        source = FileSource.for_record_stream_format(reader, self._path()).build()
        t_env = self._table_env()
        stream = get_batch_env().from_source(
            source, WatermarkStrategy.no_watermarks(), _unique_name("csv")
        )
        # The stream's type is Flink's internal RowData of the declared row type, so the table
        # keeps the declared column types, DECIMAL and TIMESTAMP precision included.
        return t_env.from_data_stream(stream)
