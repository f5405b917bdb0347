"""The keyed Flink function shared by every TF operator (runs in the Flink Python worker).

Each subtask owns exactly one key, so one subtask = one TF process. The first element (a
control row, which every subtask receives) starts the process and registers an event-time timer
at ``Long.MAX_VALUE``: its firing is the end-of-input hook, where the rest of the output is
emitted. ``close`` stops the process on every other exit path (failure, cancel).
"""

from __future__ import annotations

from pyflink.common import Row
from pyflink.datastream import KeyedProcessFunction, RuntimeContext

from bridge.errors import AkdlError
from operators._task_plan import TaskPlan
from operators._task_session import TaskSession

__all__ = ["END_OF_INPUT_TS", "TFTaskFunction"]

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
            session.feed(value[1:])
        # A plain list (or None), not a generator: this runs once per row.
        if session.has_output:
            return [Row(*values) for values in session.take_output()]
        return None

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
        session = self._session
        try:
            rows = session.finish()
        finally:
            session.close()
            self._session = None
        for values in rows:
            yield Row(*values)

    def close(self) -> None:
        """Stop the TF process if the task ends any other way (failure, cancel)."""
        if self._session is not None:
            self._session.failed = True
            self._session.close()
            self._session = None
