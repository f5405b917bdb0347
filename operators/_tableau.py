"""Formatting rows as Flink's ``TableResult.print()`` does (runs in the Flink driver)."""

from __future__ import annotations

import datetime
from typing import Any

from pyflink.common import Row

__all__ = ["format_tableau"]

_NULL_TEXT = "<NULL>"


def _cell_text(value: Any) -> str:
    if value is None:
        return _NULL_TEXT
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, bytes | bytearray):
        return "x'" + bytes(value).hex() + "'"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, list):
        return "[" + ", ".join(_cell_text(v) for v in value) + "]"
    return str(value)


def format_tableau(names: list[str], rows: list[Row]) -> str:
    """Formats rows like Flink's ``TableResult.print()``: a boxed table and a row count."""
    cells = [[_cell_text(v) for v in row] for row in rows]
    widths = [len(n) for n in names]
    for line in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, line)]
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def boxed(values: list[str]) -> str:
        return "|" + "|".join(f" {v:>{w}} " for v, w in zip(values, widths)) + "|"

    out = [border, boxed(names), border]
    out.extend(boxed(line) for line in cells)
    if cells:
        out.append(border)
    count = len(rows)
    out.append(f"{count} row{'' if count == 1 else 's'} in set" if count else "Empty set")
    return "\n".join(out)

