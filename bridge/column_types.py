"""Column types and schemas: what a column of a TF stage can hold (both processes).

Pure Python, no TensorFlow. Schema strings are parsed into these by `bridge.schema`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bridge.errors import AkdlError, SchemaError

__all__ = [
    "DECIMAL_DEFAULT_PRECISION",
    "DECIMAL_MAX_PRECISION",
    "TIMESTAMP_MAX_PRECISION",
    "ColumnNotFoundError",
    "FeatureKind",
    "Field",
    "FieldType",
    "Schema",
    "TypeKind",
    "quote_name",
]

class TypeKind(enum.Enum):
    """The column types akdl can carry between Flink and TensorFlow."""

    TINYINT = "TINYINT"
    SMALLINT = "SMALLINT"
    INT = "INT"
    BIGINT = "BIGINT"
    BOOLEAN = "BOOLEAN"
    FLOAT = "FLOAT"
    DOUBLE = "DOUBLE"
    DECIMAL = "DECIMAL"
    STRING = "STRING"
    BYTES = "BYTES"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"
    ARRAY = "ARRAY"


class FeatureKind(enum.Enum):
    """The value list a column occupies inside a ``tf.train.Feature``."""

    INT64 = "int64_list"
    FLOAT = "float_list"
    BYTES = "bytes_list"


_FEATURE_KINDS = {
    TypeKind.TINYINT: FeatureKind.INT64,
    TypeKind.SMALLINT: FeatureKind.INT64,
    TypeKind.INT: FeatureKind.INT64,
    TypeKind.BIGINT: FeatureKind.INT64,
    TypeKind.BOOLEAN: FeatureKind.INT64,
    TypeKind.DATE: FeatureKind.INT64,
    TypeKind.TIMESTAMP: FeatureKind.INT64,
    TypeKind.FLOAT: FeatureKind.FLOAT,
    TypeKind.DOUBLE: FeatureKind.FLOAT,
    TypeKind.DECIMAL: FeatureKind.FLOAT,
    TypeKind.STRING: FeatureKind.BYTES,
    TypeKind.BYTES: FeatureKind.BYTES,
}

DECIMAL_DEFAULT_PRECISION = 10
DECIMAL_MAX_PRECISION = 38
TIMESTAMP_MAX_PRECISION = 9


@dataclass(frozen=True)
class FieldType:
    """The type of one column.

    Attributes:
        kind: the type's kind.
        element: the element type of an ``ARRAY``; a scalar type. ``None`` for other kinds.
        precision: total digits of a ``DECIMAL``, or fractional-second digits of a
            ``TIMESTAMP`` (``None`` when the schema string gave none).
        scale: fractional digits of a ``DECIMAL``; ``None`` for other kinds.
        local_time_zone: ``True`` for ``TIMESTAMP_LTZ`` (``TIMESTAMP WITH LOCAL TIME ZONE``).
            Such columns travel exactly like ``TIMESTAMP`` ones.
    """

    kind: TypeKind
    element: FieldType | None = None
    precision: int | None = None
    scale: int | None = None
    local_time_zone: bool = False

    def __post_init__(self) -> None:
        if self.kind is TypeKind.ARRAY:
            if self.element is None:
                raise ValueError("an ARRAY type needs an element type")
            if self.element.kind is TypeKind.ARRAY:
                raise ValueError("nested arrays are not supported")
        elif self.element is not None:
            raise ValueError(f"only ARRAY types have an element type, not {self.kind.value}")
        if self.kind is TypeKind.DECIMAL:
            if self.precision is None:
                object.__setattr__(self, "precision", DECIMAL_DEFAULT_PRECISION)
            if self.scale is None:
                object.__setattr__(self, "scale", 0)
        elif self.scale is not None:
            raise ValueError(f"only DECIMAL types have a scale, not {self.kind.value}")
        elif self.precision is not None and self.kind is not TypeKind.TIMESTAMP:
            raise ValueError(f"{self.kind.value} takes no precision")
        if self.local_time_zone and self.kind is not TypeKind.TIMESTAMP:
            raise ValueError("only TIMESTAMP types can have a local time zone")

    def sql(self) -> str:
        """The canonical Flink SQL spelling, e.g. ``"DECIMAL(10, 2)"`` or ``"ARRAY<DOUBLE>"``."""
        if self.kind is TypeKind.ARRAY:
            assert self.element is not None  # guaranteed by __post_init__
            return f"ARRAY<{self.element.sql()}>"
        if self.kind is TypeKind.DECIMAL:
            return f"DECIMAL({self.precision}, {self.scale})"
        if self.kind is TypeKind.TIMESTAMP:
            name = "TIMESTAMP_LTZ" if self.local_time_zone else "TIMESTAMP"
            return name if self.precision is None else f"{name}({self.precision})"
        return self.kind.value

    @property
    def is_array(self) -> bool:
        """Whether this is an ``ARRAY`` type."""
        return self.kind is TypeKind.ARRAY

    @property
    def value_type(self) -> FieldType:
        """The type of one value: the element type of an ``ARRAY``, else this type itself."""
        if self.element is not None:
            return self.element
        return self

    @property
    def feature_kind(self) -> FeatureKind:
        """The Example value list this type uses; an ``ARRAY`` uses its element's."""
        if self.kind is TypeKind.ARRAY:
            assert self.element is not None  # guaranteed by __post_init__
            return self.element.feature_kind
        return _FEATURE_KINDS[self.kind]

    def __str__(self) -> str:
        return self.sql()


@dataclass(frozen=True)
class Field:
    """One named column.

    Attributes:
        name: the column name, exactly as written (without backticks).
        type: the column type.
    """

    name: str
    type: FieldType


class ColumnNotFoundError(AkdlError, KeyError):
    """A column name is not in the schema; the message lists the columns that are.

    Attributes:
        column: the name that was asked for.
        available: the schema's column names.
    """

    def __init__(self, column: str, available: Iterable[str]):
        self.column = column
        self.available = list(available)
        super().__init__(column)

    def __str__(self) -> str:
        return f"no column {self.column!r}; the columns are: {', '.join(self.available)}"


@dataclass(frozen=True)
class Schema:
    """An ordered list of uniquely named columns.

    Attributes:
        fields: the columns in order.
    """

    fields: tuple[Field, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        fields = tuple(self.fields)
        object.__setattr__(self, "fields", fields)
        index: dict[str, int] = {}
        for i, f in enumerate(fields):
            if f.name in index:
                raise SchemaError(self.to_string(), f.name, "duplicate column name")
            index[f.name] = i
        object.__setattr__(self, "_index", index)

    @property
    def names(self) -> list[str]:
        """The column names in order."""
        return [f.name for f in self.fields]

    @property
    def types(self) -> list[FieldType]:
        """The column types in order."""
        return [f.type for f in self.fields]

    def __len__(self) -> int:
        return len(self.fields)

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def index_of(self, name: str) -> int:
        """The position of a column.

        Args:
            name: the column name (case-sensitive).

        Returns:
            The column's 0-based index.

        Raises:
            ColumnNotFoundError: no column has that name; the message lists the columns.
        """
        try:
            return self._index[name]
        except KeyError:
            raise ColumnNotFoundError(name, self.names) from None

    def select(self, names: Iterable[str]) -> Schema:
        """A schema of some of the columns, in the order asked for.

        Args:
            names: column names of this schema.

        Returns:
            The sub-schema.

        Raises:
            ColumnNotFoundError: one of the names is not a column.
        """
        return Schema(tuple(self.fields[self.index_of(n)] for n in names))

    def to_string(self) -> str:
        """The schema string, e.g. ``"a BIGINT, b STRING"``; `parse_schema` reads it back."""
        return ", ".join(f"{quote_name(f.name)} {f.type.sql()}" for f in self.fields)

    def __str__(self) -> str:
        return self.to_string()


_PLAIN_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def quote_name(name: str, *, always: bool = False) -> str:
    """A column name as schema strings and Flink SQL write it.

    Plain identifiers stay as they are; any other name is put in backticks, with backticks in
    it doubled. SQL text passes ``always=True``, so reserved words (``value``, ``timestamp``)
    are quoted too.
    """
    if not always and _PLAIN_NAME.fullmatch(name):
        return name
    return "`" + name.replace("`", "``") + "`"
