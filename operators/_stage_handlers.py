"""What differs between the kinds of TF stage on the Flink side: one small handler per kind.

Runs in the Flink Python worker. The stage function (`operators._stage_function`) owns the
shared machinery (TF process, feeding, draining, timers); a handler only says

* what goes onto the wire for one input row (:meth:`StageHandler.wire_values`),
* what Flink rows the decoded output values become (:meth:`StageHandler.rows`),
* whether the output was complete when the task ended (:meth:`StageHandler.check_complete`).

A handler instance belongs to one subtask (each subtask unpickles its own copy of the function).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from pyflink.common import Row, RowKind

from bridge.errors import AkdlError
from bridge.predict_columns import ColumnPlan

__all__ = ["PredictHandler", "ScriptHandler", "StageHandler", "make_rows"]

_INSERT = RowKind.INSERT


def make_rows(rows: Iterable[Sequence[Any]]) -> list[Row]:
    """Flink rows of the given values, made without ``Row.__init__``'s per-row checks.

    One output row per value sequence: the same object ``Row(*values)`` makes (an INSERT row
    with positional fields), about three times faster, which matters on a path that emits every
    row of a stream.
    """
    new = Row.__new__
    made = []
    for values in rows:
        row = new(Row)
        row.__dict__.update(_values=list(values), _from_dict=False, _row_kind=_INSERT)
        made.append(row)
    return made


class StageHandler:
    """The hooks of one kind of stage; the defaults pass rows through unchanged."""

    def wire_values(self, row: Sequence[Any]) -> Sequence[Any]:
        """The values of an input row that the TF process receives."""
        return row

    def rows(self, outputs: list[list[Any]], where: str) -> list[Row]:
        """The Flink rows for output values decoded from the TF process.

        Args:
            outputs: the decoded output rows, in arrival order.
            where: the operator and task, for messages.
        """
        return make_rows(outputs)

    def check_complete(self, where: str) -> None:
        """Called once the task succeeded; raises if the output is incomplete."""


class ScriptHandler(StageHandler):
    """Script and train stages: rows in, whatever the script writes out."""


class PredictHandler(StageHandler):
    """Predict stages: each output row is joined with the input row it answers.

    The TF process answers every input row with exactly one output row, in order, so the input
    rows wait here in a queue (bounded by what is in flight) and only the selected columns and
    the predictions cross the channel. A missing or extra answer fails the job.
    """

    def __init__(self, columns: ColumnPlan):
        self._columns = columns
        self._waiting: deque = deque()

    def wire_values(self, row: Sequence[Any]) -> Sequence[Any]:
        """Keep the row for its answer; only the selected columns go to the model."""
        self._waiting.append(row)
        return self._columns.selected_values(row)

    def rows(self, outputs: list[list[Any]], where: str) -> list[Row]:
        """Each prediction joined with the oldest waiting input row (reserved columns)."""
        if len(outputs) > len(self._waiting):
            raise AkdlError(
                f"{where}: the TF process returned {len(outputs)} predictions for "
                f"{len(self._waiting)} waiting rows"
            )
        take = self._waiting.popleft
        return make_rows(self._columns.result_row(take(), values) for values in outputs)

    def check_complete(self, where: str) -> None:
        """Every input row got its prediction."""
        if self._waiting:
            raise AkdlError(f"{where}: {len(self._waiting)} input rows got no prediction")
