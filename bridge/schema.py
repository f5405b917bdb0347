"""Schema strings: parsing Alink and Flink SQL type names into typed column lists.

Runs in both processes: the Flink side parses the operator's schema parameters before the job
starts, and the TF process parses the same strings to build its codecs. Pure Python, no
TensorFlow. The types themselves live in `bridge.column_types` and are re-exported here.

A schema string is a comma-separated list of ``name type`` pairs, for example
``"id long, features ARRAY<DOUBLE>, price DECIMAL(10, 2)"``. Names and types are
case-insensitive on the type side; names may be quoted with backticks to hold spaces or commas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from bridge.column_types import (
    DECIMAL_DEFAULT_PRECISION,
    DECIMAL_MAX_PRECISION,
    TIMESTAMP_MAX_PRECISION,
    ColumnNotFoundError,
    FeatureKind,
    Field,
    FieldType,
    Schema,
    TypeKind,
    quote_name,
)
from bridge.errors import SchemaError

__all__ = [
    "ColumnNotFoundError",
    "FeatureKind",
    "Field",
    "FieldType",
    "Schema",
    "TypeKind",
    "parse_schema",
    "parse_type",
    "quote_name",
]

# --- type parsing ---------------------------------------------------------------------------

# Names taking no arguments, Alink's and Flink's alike.
_SIMPLE_TYPES = {
    "TINYINT": TypeKind.TINYINT,
    "BYTE": TypeKind.TINYINT,
    "SMALLINT": TypeKind.SMALLINT,
    "SHORT": TypeKind.SMALLINT,
    "INT": TypeKind.INT,
    "INTEGER": TypeKind.INT,
    "BIGINT": TypeKind.BIGINT,
    "LONG": TypeKind.BIGINT,
    "BOOLEAN": TypeKind.BOOLEAN,
    "BOOL": TypeKind.BOOLEAN,
    "FLOAT": TypeKind.FLOAT,
    "REAL": TypeKind.FLOAT,
    "DOUBLE": TypeKind.DOUBLE,
    "STRING": TypeKind.STRING,
    "BYTES": TypeKind.BYTES,
    "DATE": TypeKind.DATE,
}
# Names taking an optional length that akdl does not keep.
_SIZED_TYPES = {
    "VARCHAR": TypeKind.STRING,
    "CHAR": TypeKind.STRING,
    "VARBINARY": TypeKind.BYTES,
    "BINARY": TypeKind.BYTES,
}
_DECIMAL_NAMES = {"DECIMAL", "DEC", "NUMERIC"}
_TIMESTAMP_NAMES = {"TIMESTAMP", "TIMESTAMP_LTZ"}
# Types that exist in Flink or Alink but cannot travel in a tf.train.Example column.
_UNSUPPORTED_TYPES = {
    "MAP",
    "ROW",
    "MULTISET",
    "TIME",
    "INTERVAL",
    "RAW",
    "VARIANT",
    "STRUCTURED",
    "NULL",
    "TIMESTAMP_TZ",
    "VECTOR",
    "DENSE_VECTOR",
    "SPARSE_VECTOR",
    "MTABLE",
    "M_TABLE",
    "TENSOR",
}
_TIME_ATTRIBUTE_MARKERS = {"*ROWTIME*", "*PROCTIME*"}

_TOKEN = re.compile(
    r"\s*(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\d+)|(?P<marker>\*[A-Za-z]+\*)"
    r"|(?P<punct>[<>(),])|(?P<other>[^\s<>(),]))"
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "num", "marker", "punct", "other" or "end"
    text: str
    start: int
    end: int


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:  # only trailing whitespace is left
            break
        kind = m.lastgroup or "other"
        tokens.append(_Token(kind, m.group(kind), m.start(kind), m.end(kind)))
        pos = m.end()
    tokens.append(_Token("end", "", len(text), len(text)))
    return tokens


class _TypeParser:
    """Recursive-descent parser of one column's type text; errors quote the schema string."""

    def __init__(self, text: str, schema_text: str):
        self._text = text
        self._schema_text = schema_text
        self._tokens = _tokenize(text)
        self._pos = 0

    def parse(self) -> FieldType:
        if self._peek().kind == "end":
            self._fail(self._text, "missing type")
        ftype = self._type()
        tok = self._peek()
        if tok.kind != "end":
            self._fail(self._text[tok.start :].strip(), "unexpected text after the type")
        return ftype

    # -- helpers --

    def _peek(self, ahead: int = 0) -> _Token:
        return self._tokens[min(self._pos + ahead, len(self._tokens) - 1)]

    def _next(self) -> _Token:
        tok = self._peek()
        self._pos = min(self._pos + 1, len(self._tokens) - 1)
        return tok

    def _accept_words(self, *words: str) -> bool:
        """Consumes the given keyword sequence if it comes next (case-insensitive)."""
        for i, word in enumerate(words):
            tok = self._peek(i)
            if tok.kind != "word" or tok.text.upper() != word:
                return False
        self._pos += len(words)
        return True

    def _accept_punct(self, punct: str) -> bool:
        tok = self._peek()
        if tok.kind == "punct" and tok.text == punct:
            self._pos += 1
            return True
        return False

    def _fail(self, part: str, problem: str) -> NoReturn:
        raise SchemaError(self._schema_text, part, problem)

    def _span(self, start: int) -> str:
        """The text from ``start`` up to the end of the last consumed token."""
        return self._text[start : self._tokens[self._pos - 1].end]

    # -- grammar --

    def _type(self) -> FieldType:
        tok = self._next()
        if tok.kind != "word":
            self._fail(tok.text or self._text, "expected a type name")
        name = tok.text.upper()
        if name == "ARRAY":
            ftype = self._array(tok)
        elif name in _SIMPLE_TYPES:
            ftype = FieldType(_SIMPLE_TYPES[name])
            if name == "DOUBLE":
                self._accept_words("PRECISION")
            if self._peek().text == "(":
                self._args(tok, 0)
        elif name in _SIZED_TYPES:
            self._args(tok, 1)
            ftype = FieldType(_SIZED_TYPES[name])
        elif name in _DECIMAL_NAMES:
            ftype = self._decimal(tok)
        elif name in _TIMESTAMP_NAMES:
            ftype = self._timestamp(tok)
        elif name in _UNSUPPORTED_TYPES or name.endswith(("_TENSOR", "_VECTOR")):
            self._fail(tok.text, "unsupported type")
        else:
            self._fail(tok.text, "unknown type")
        self._nullability()
        if self._peek().kind == "marker" and self._peek().text.upper() in _TIME_ATTRIBUTE_MARKERS:
            if ftype.kind is not TypeKind.TIMESTAMP:
                self._fail(self._peek().text, "time attribute marker on a non-timestamp type")
            self._next()
        return ftype

    def _nullability(self) -> None:
        if not self._accept_words("NOT", "NULL"):
            self._accept_words("NULL")

    def _args(self, name_tok: _Token, most: int) -> list[int]:
        """Reads ``(n)`` or ``(n, m)`` if present; at most ``most`` numbers are allowed."""
        if not self._accept_punct("("):
            return []
        args = []
        while True:
            tok = self._next()
            if tok.kind != "num":
                self._fail(self._span(name_tok.start), "expected a number")
            args.append(int(tok.text))
            if self._accept_punct(")"):
                break
            if not self._accept_punct(","):
                self._fail(self._span(name_tok.start), "expected ',' or ')'")
        if len(args) > most:
            what = "no arguments" if most == 0 else f"at most {most} argument(s)"
            self._fail(self._span(name_tok.start), f"{name_tok.text.upper()} takes {what}")
        return args

    def _array(self, name_tok: _Token) -> FieldType:
        if not self._accept_punct("<"):
            self._fail(self._span(name_tok.start), "ARRAY needs an element type: ARRAY<...>")
        if self._peek().kind == "word" and self._peek().text.upper() == "ARRAY":
            self._type()
            if not self._accept_punct(">"):
                self._fail(self._span(name_tok.start), "expected '>'")
            self._fail(self._span(name_tok.start), "nested arrays are not supported")
        element = self._type()
        if not self._accept_punct(">"):
            self._fail(self._span(name_tok.start), "expected '>' after the ARRAY element type")
        return FieldType(TypeKind.ARRAY, element=element)

    def _decimal(self, name_tok: _Token) -> FieldType:
        args = self._args(name_tok, 2)
        precision = args[0] if args else DECIMAL_DEFAULT_PRECISION
        scale = args[1] if len(args) > 1 else 0
        if not 1 <= precision <= DECIMAL_MAX_PRECISION:
            self._fail(
                self._span(name_tok.start),
                f"DECIMAL precision must be between 1 and {DECIMAL_MAX_PRECISION}",
            )
        if scale > precision:
            self._fail(self._span(name_tok.start), "DECIMAL scale must not exceed its precision")
        return FieldType(TypeKind.DECIMAL, precision=precision, scale=scale)

    def _timestamp(self, name_tok: _Token) -> FieldType:
        args = self._args(name_tok, 1)
        precision = args[0] if args else None
        if precision is not None and precision > TIMESTAMP_MAX_PRECISION:
            self._fail(
                self._span(name_tok.start),
                f"TIMESTAMP precision must be between 0 and {TIMESTAMP_MAX_PRECISION}",
            )
        local = name_tok.text.upper() == "TIMESTAMP_LTZ"
        if not local:
            if self._accept_words("WITH", "LOCAL", "TIME", "ZONE"):
                local = True
            elif self._accept_words("WITH", "TIME", "ZONE"):
                self._fail(self._span(name_tok.start), "unsupported type")
            else:
                self._accept_words("WITHOUT", "TIME", "ZONE")
        return FieldType(TypeKind.TIMESTAMP, precision=precision, local_time_zone=local)


def parse_type(text: str) -> FieldType:
    """Parses one type, in Alink's or Flink SQL's spelling, case-insensitively.

    Args:
        text: e.g. ``"long"``, ``"VARCHAR(20) NOT NULL"``, ``"ARRAY<DOUBLE>"``,
            ``"DECIMAL(10, 2)"``, ``"TIMESTAMP(3) WITH LOCAL TIME ZONE"``.

    Returns:
        The parsed type.

    Raises:
        SchemaError: the text is not a supported type; the message quotes the offending part.
    """
    return _TypeParser(text, text).parse()


# --- schema parsing -------------------------------------------------------------------------

_CLOSERS = {"<": ">", "(": ")"}


def _split_columns(text: str) -> list[tuple[int, str]]:
    """Splits on top-level commas; returns ``(start offset, column text)`` pairs."""
    parts = []
    stack: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "`":
            end = i + 1
            while True:
                end = text.find("`", end)
                if end < 0:
                    raise SchemaError(text, text[i:].strip(), "unterminated backtick quote")
                if text.startswith("``", end):
                    end += 2
                    continue
                break
            i = end + 1
            continue
        if ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif ch in ">)":
            if not stack or stack.pop() != ch:
                raise SchemaError(text, text[start : i + 1].strip(), "unbalanced brackets")
        elif ch == "," and not stack:
            parts.append((start, text[start:i]))
            start = i + 1
        i += 1
    if stack:
        raise SchemaError(
            text, text[start:].strip(), f"unbalanced brackets: missing {''.join(reversed(stack))!r}"
        )
    parts.append((start, text[start:]))
    return parts


def _parse_column(schema_text: str, part: str) -> Field:
    column = part.strip()
    if column.startswith("`"):
        end = 1
        while True:
            end = column.find("`", end)
            if end < 0:
                raise SchemaError(schema_text, column, "unterminated backtick quote")
            if column.startswith("``", end):
                end += 2
                continue
            break
        name = column[1:end].replace("``", "`")
        rest = column[end + 1 :]
        if not name:
            raise SchemaError(schema_text, column, "empty column name")
        if rest and not rest[0].isspace() and rest.strip():
            raise SchemaError(schema_text, column, "expected a space after the quoted name")
    else:
        pieces = column.split(None, 1)
        name = pieces[0]
        rest = pieces[1] if len(pieces) > 1 else ""
        if not rest.strip():
            raise SchemaError(schema_text, name, "missing type")
        bad = re.search(r"[<>(),]", name)
        if bad:
            raise SchemaError(
                schema_text, name, "invalid column name (quote names with `backticks`)"
            )
    if not rest.strip():
        raise SchemaError(schema_text, column, "missing type")
    return Field(name, _TypeParser(rest.strip(), schema_text).parse())


def parse_schema(text: str) -> Schema:
    """Parses a schema string such as ``"id long, text string, vec ARRAY<DOUBLE>"``.

    Types follow `parse_type`. Column names are case-sensitive and may be quoted with
    backticks (a backtick inside is doubled). Columns are split on top-level commas only, so
    ``DECIMAL(10, 2)`` stays one type.

    Args:
        text: the schema string.

    Returns:
        The parsed schema.

    Raises:
        SchemaError: the string is empty, a column lacks a type, a type is unknown or
            unsupported, brackets are unbalanced, or a name repeats. The message quotes the
            offending part.
    """
    if not isinstance(text, str):
        raise SchemaError(repr(text), repr(text), "a schema must be a string")
    if not text.strip():
        raise SchemaError(text, text, "empty schema")
    fields = []
    seen: set[str] = set()
    prev_start = 0
    for start, part in _split_columns(text):
        if not part.strip():
            # Quote the empty slot with its neighbours, e.g. "a long,," or ", b int".
            end = start + len(part) + 1
            raise SchemaError(text, text[prev_start:end].strip(), "empty column definition")
        prev_start = start
        f = _parse_column(text, part)
        if f.name in seen:
            raise SchemaError(text, f.name, "duplicate column name")
        seen.add(f.name)
        fields.append(f)
    return Schema(tuple(fields))
