"""Which input columns feed the model, which pass through, and how result rows are laid out.

Pure Python, no TensorFlow. The layout follows Alink's ``OutputColsHelper``, so ported programs
see the columns they expect:

- reserved columns (default: all input columns) keep their input order and come first, then
  the output columns;
- an output column named like an input column takes that column's place (and value) instead
  of being appended, whether or not the input column is reserved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bridge.schema import Schema

__all__ = ["ColumnPlan", "plan_columns"]


@dataclass(frozen=True)
class ColumnPlan:
    """Where each column of a predict operator's input and result comes from.

    Attributes:
        input_schema: all input columns.
        selected: the input positions of the columns that feed the model, in feeding order.
        selected_schema: those columns.
        output_schema: the model's output columns.
        result_schema: the result columns, in order.
        sources: for each result column, ``("input", i)`` for input column ``i`` or
            ``("output", j)`` for output column ``j``.
    """

    input_schema: Schema
    selected: tuple[int, ...]
    selected_schema: Schema
    output_schema: Schema
    result_schema: Schema
    sources: tuple[tuple[str, int], ...]

    def selected_values(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """The values of the selected columns of one input row."""
        return tuple(row[i] for i in self.selected)

    def result_row(self, row: Sequence[Any], outputs: Sequence[Any]) -> tuple[Any, ...]:
        """One result row from an input row and the model's outputs for it."""
        return tuple(row[i] if src == "input" else outputs[i] for src, i in self.sources)


def plan_columns(
    input_schema: Schema,
    output_schema: Schema,
    selected_cols: Sequence[str] | None = None,
    reserved_cols: Sequence[str] | None = None,
) -> ColumnPlan:
    """Lays out a predict operator's columns.

    Args:
        input_schema: all input columns.
        output_schema: the model's output columns.
        selected_cols: the columns feeding the model, in order; default: all input columns.
        reserved_cols: the input columns passed through; default: all input columns.

    Returns:
        The plan.

    Raises:
        ColumnNotFoundError: a selected or reserved column is not an input column; the message
            lists the input columns.
    """
    selected_names = input_schema.names if selected_cols is None else list(selected_cols)
    selected = tuple(input_schema.index_of(n) for n in selected_names)
    reserved_names = input_schema.names if reserved_cols is None else list(reserved_cols)
    reserved = {input_schema.index_of(n) for n in reserved_names}
    output_names = output_schema.names
    sources: list[tuple[str, int]] = []
    placed: set[int] = set()
    for i, name in enumerate(input_schema.names):
        if name in output_names:
            j = output_names.index(name)
            sources.append(("output", j))
            placed.add(j)
        elif i in reserved:
            sources.append(("input", i))
    sources.extend(("output", j) for j in range(len(output_names)) if j not in placed)
    result_fields = tuple(
        input_schema.fields[i] if src == "input" else output_schema.fields[i] for src, i in sources
    )
    return ColumnPlan(
        input_schema=input_schema,
        selected=selected,
        selected_schema=Schema(tuple(input_schema.fields[i] for i in selected)),
        output_schema=output_schema,
        result_schema=Schema(result_fields),
        sources=tuple(sources),
    )
