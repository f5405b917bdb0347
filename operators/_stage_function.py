"""The one keyed Flink function of every TF stage (runs in the Flink Python worker).

Each subtask owns exactly one key, so one subtask = one TF process. The first element (a
control row, which every subtask receives) starts the process and registers an event-time timer
at ``Long.MAX_VALUE``: its firing is the end-of-input hook, where the rest of the output is
emitted. ``close`` stops the process on every other exit path (failure, cancel).

What differs between kinds of stage is the handler's (`operators._stage_handlers`); a stream
stage also has a :class:`FlushPolicy`, which sends buffered input and drains output on a
processing-time timer while no row arrives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pyflink.datastream import KeyedProcessFunction, RuntimeContext, TimeDomain

from bridge.errors import AkdlError
from bridge.task_ref import TaskRef
from operators._jobs import stage_coordinator
from operators._stage_handlers import StageHandler
from operators._stage_plan import StagePlan
from operators._task_session import TaskSession

__all__ = ["END_OF_INPUT_TS", "FlushPolicy", "TFStageFunction"]

END_OF_INPUT_TS = 2**63 - 1


@dataclass(frozen=True)
class FlushPolicy:
    """A stream stage's promptness: how often input is sent and output drained while idle.

    Attributes:
        interval_ms: the flush interval (``flushIntervalMs``).
    """

    interval_ms: int

    @property
    def interval_s(self) -> float:
        """The interval in seconds."""
        return self.interval_ms / 1000


class TFStageFunction(KeyedProcessFunction):
    """Feeds a subtask's rows to its TF process and emits what comes back.

    Input values are rows ``(is_control, col_1, ..., col_n)``; control rows only start the
    process.

    Args:
        plan: the stage's plan.
        handler: the kind's hooks.
        flush: the stream policy; ``None`` for batch stages, which emit on rows and at the end.
    """

    def __init__(self, plan: StagePlan, handler: StageHandler, flush: FlushPolicy | None = None):
        self._plan = plan
        self._handler = handler
        self._flush = flush
        self._session: TaskSession | None = None
        self._key = None
        self._task: TaskRef | None = None
        self._coordinator: tuple[str, str] | None = None
        self._metric_group = None
        self._next_input_flush = 0.0

    @property
    def _where(self) -> str:
        task = self._task.describe() if self._task else "(not started)"
        return f"{self._plan.operator_name} {task}"

    def open(self, runtime_context: RuntimeContext) -> None:
        """Learn this subtask's task and the stage's coordinator; the process starts later."""
        self._task = TaskRef.of_subtask(
            runtime_context.get_index_of_this_subtask(), self._plan.num_workers,
            runtime_context.get_attempt_number(),
        )
        self._coordinator = stage_coordinator(runtime_context, self._plan.stage)
        self._metric_group = runtime_context.get_metrics_group()
        if self._coordinator is None and self._plan.needs_coordinator:
            raise AkdlError(
                f"{self._where}: this stage of {self._plan.parallelism} TF processes has no "
                "coordinator; run the job through akdl (op.collect(), op.print(), "
                "BatchOperator.execute(), StreamOperator.execute()) so that one is started"
            )

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        """Start the TF process on the first element, then feed data rows to it."""
        session = self._session or self._start(ctx)
        try:
            if not value[0]:
                session.feed(self._handler.wire_values(value[1:]))
                if self._flush is not None and time.monotonic() >= self._next_input_flush:
                    self._flush_input(session)
            # A plain list (or None), not a generator: this runs once per row.
            if session.has_output:
                return self._handler.rows(session.take_output(), self._where)
        except Exception as exc:
            session.report_failure(exc)  # the peers stop now, not at Flink's cancel
            raise
        return None

    def _start(self, ctx: KeyedProcessFunction.Context) -> TaskSession:
        key = ctx.get_current_key()
        if self._key is not None and key != self._key:
            raise AkdlError(
                f"{self._where} received a second key ({key} after {self._key}); each subtask "
                "must own exactly one key"
            )
        self._key = key
        ctx.timer_service().register_event_time_timer(END_OF_INPUT_TS)
        session = TaskSession(self._plan, self._task, self._coordinator, self._metric_group)
        self._session = session
        session.start()
        if self._flush is not None:
            self._schedule_flush(ctx)
        return session

    def _flush_input(self, session: TaskSession) -> None:
        session.flush_input()
        self._next_input_flush = time.monotonic() + self._flush.interval_s

    def _schedule_flush(self, ctx) -> None:
        service = ctx.timer_service()
        service.register_processing_time_timer(
            service.current_processing_time() + self._flush.interval_ms
        )

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        """End of input (event time ``Long.MAX``), or a stream's periodic flush.

        A flush timer that fires after the end of input finds no session and stops the chain.
        """
        session = self._session
        if session is None:
            return
        if ctx.time_domain() == TimeDomain.EVENT_TIME:
            if timestamp == END_OF_INPUT_TS:
                yield from self._finish(session)
            return
        try:
            self._flush_input(session)
            rows = self._handler.rows(session.poll(), self._where)
        except Exception as exc:
            session.report_failure(exc)
            raise
        self._schedule_flush(ctx)
        yield from rows

    def _finish(self, session: TaskSession):
        try:
            rows = self._handler.rows(session.finish(), self._where)
            self._handler.check_complete(self._where)
        except Exception as exc:
            session.report_failure(exc)
            raise
        finally:
            session.close()
            self._session = None
        yield from rows

    def close(self) -> None:
        """Stop the TF process if the task ends any other way (failure, cancel).

        The work dir is kept only when the TF task itself failed; a cancelled one is removed.
        """
        if self._session is not None:
            self._session.close()
            self._session = None

