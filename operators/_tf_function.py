"""The keyed Flink function shared by every TF operator (runs in the Flink Python worker).

Each subtask owns exactly one key, so one subtask = one TF process. The first element (a
control row, which every subtask receives) starts the process and registers an event-time timer
at ``Long.MAX_VALUE``: its firing is the end-of-input hook, where the rest of the output is
emitted. ``close`` stops the process on every other exit path (failure, cancel).
"""

from __future__ import annotations

import time
from collections import deque

from pyflink.common import Row
from pyflink.datastream import KeyedProcessFunction, RuntimeContext, TimeDomain

from bridge.errors import AkdlError
from bridge.predict_columns import ColumnPlan
from operators._task_plan import TaskPlan
from operators._task_session import TaskSession

__all__ = [
    "END_OF_INPUT_TS",
    "TFPredictFunction",
    "TFStreamPredictFunction",
    "TFStreamTaskFunction",
    "TFTaskFunction",
]

END_OF_INPUT_TS = 2**63 - 1


class TFTaskFunction(KeyedProcessFunction):
    """Feeds a subtask's rows to its TF process and emits what the process writes back.

    Input values are rows ``(is_control, col_1, ..., col_n)``; control rows only start the
    process.
    """

    def __init__(self, plan: TaskPlan):
        self._plan = plan
        self._session: TaskSession | None = None
        self._key = None
        self._subtask = -1

    def open(self, runtime_context: RuntimeContext) -> None:
        """Remember which subtask this is; the process starts with the first element."""
        self._subtask = runtime_context.get_index_of_this_subtask()

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        """Start the TF process on the first element, then feed data rows to it."""
        session = self._session or self._start(ctx)
        if not value[0]:
            self._feed(session, value[1:])
        # A plain list (or None), not a generator: this runs once per row.
        if session.has_output:
            return self._rows(session.take_output())
        return None

    def _feed(self, session: TaskSession, row) -> None:
        session.feed(row)

    def _rows(self, outputs: list[list]) -> list[Row]:
        """Flink rows for output values decoded from the TF process."""
        return [Row(*values) for values in outputs]

    def _start(self, ctx: KeyedProcessFunction.Context) -> TaskSession:
        key = ctx.get_current_key()
        if self._key is not None and key != self._key:
            raise AkdlError(
                f"{self._plan.operator_name}: subtask {self._subtask} received a second key "
                f"({key} after {self._key}); each subtask must own exactly one key"
            )
        self._key = key
        ctx.timer_service().register_event_time_timer(END_OF_INPUT_TS)
        session = TaskSession(self._plan, self._subtask)
        self._session = session
        session.start()
        return session

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        """End of input: finish the TF task and emit the rest of its output."""
        if timestamp != END_OF_INPUT_TS or self._session is None:
            return
        yield from self._finish()

    def _finish(self):
        session = self._session
        try:
            rows = self._rows(session.finish())
            self._check_finished()
        finally:
            session.close()
            self._session = None
        yield from rows

    def _check_finished(self) -> None:
        """Called once the task succeeded; a subclass may still find the output incomplete."""

    def close(self) -> None:
        """Stop the TF process if the task ends any other way (failure, cancel).

        The work dir is kept only when the TF task itself failed; a cancelled one is removed.
        """
        if self._session is not None:
            self._session.close()
            self._session = None


class TFStreamTaskFunction(TFTaskFunction):
    """The stream variant: output reaches Flink without waiting for the next input row.

    Besides draining on each element and at end of input, a processing-time timer fires every
    ``plan.flush_interval_ms`` to send buffered input to the TF process, drain its output and
    notice a crashed process. A timer that fires after end of input finds no session and
    stops the chain (the guard against late timers).
    """

    def __init__(self, plan: TaskPlan):
        super().__init__(plan)
        self._interval_s = plan.flush_interval_ms / 1000
        self._input_flushed_at = 0.0

    def _start(self, ctx: KeyedProcessFunction.Context) -> TaskSession:
        session = super()._start(ctx)
        self._schedule_flush(ctx)
        return session

    def _schedule_flush(self, ctx) -> None:
        service = ctx.timer_service()
        service.register_processing_time_timer(
            service.current_processing_time() + self._plan.flush_interval_ms
        )

    def _feed(self, session: TaskSession, row) -> None:
        """Feed the row; send buffered input once it has waited a flush interval."""
        super()._feed(session, row)
        if time.monotonic() - self._input_flushed_at >= self._interval_s:
            self._flush_input(session)

    def _flush_input(self, session: TaskSession) -> None:
        session.flush_input()
        self._input_flushed_at = time.monotonic()

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        """Periodic flush (processing time), or end of input (event time ``Long.MAX``)."""
        if self._session is None:
            return
        if ctx.time_domain() == TimeDomain.EVENT_TIME:
            if timestamp == END_OF_INPUT_TS:
                yield from self._finish()
            return
        session = self._session
        self._flush_input(session)
        rows = self._rows(session.poll())
        self._schedule_flush(ctx)
        yield from rows


class _PairsOutputWithInput:
    """Predict stages: each output row is joined with the input row it answers.

    The TF process answers every input row with exactly one output row, in order, so the input
    rows wait here in a queue (bounded by what is in flight) and only the selected columns and
    the predictions cross the channel. A missing or extra answer fails the job.
    """

    def __init__(self, plan: TaskPlan, columns: ColumnPlan):
        super().__init__(plan)
        self._columns = columns
        self._waiting: deque = deque()

    def _feed(self, session: TaskSession, row) -> None:
        self._waiting.append(row)
        super()._feed(session, self._columns.selected_values(row))

    def _rows(self, outputs: list[list]) -> list[Row]:
        if len(outputs) > len(self._waiting):
            raise AkdlError(
                f"{self._plan.operator_name} subtask {self._subtask}: the TF process returned "
                f"{len(outputs)} predictions for {len(self._waiting)} waiting rows"
            )
        take = self._waiting.popleft
        return [Row(*self._columns.result_row(take(), values)) for values in outputs]

    def _check_finished(self) -> None:
        if self._waiting:
            raise AkdlError(
                f"{self._plan.operator_name} subtask {self._subtask}: {len(self._waiting)} "
                "input rows got no prediction"
            )


class TFPredictFunction(_PairsOutputWithInput, TFTaskFunction):
    """A batch predict stage: input rows joined with their predictions."""


class TFStreamPredictFunction(_PairsOutputWithInput, TFStreamTaskFunction):
    """A stream predict stage: input rows joined with their predictions, promptly."""
