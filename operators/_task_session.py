"""One TF process as seen from its Flink subtask (runs in the Flink Python worker).

The subtask calls, in order: :meth:`TaskSession.start`, :meth:`TaskSession.feed` per row,
:meth:`TaskSession.take_output` whenever it may emit, :meth:`TaskSession.finish` at end of
input, and :meth:`TaskSession.close` on every exit path. Nothing here imports Flink or
TensorFlow, so the whole lifecycle is testable with a real child process and no Flink.

How rows become channel messages is the session's `ColumnRowInput`: the wire format is one
object, so another format is another implementation of its three methods. (The columnar path's
vectorized functions hand whole batches to `TaskSession.feed_columns` instead.)
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bridge.auth import new_token
from bridge.channel import ChannelServer
from bridge.codec import ExampleDecoder, ExampleEncoder
from bridge.column_batch import batch_rows, encode_batch, from_python
from bridge.coordinator.client import CoordinatorClient
from bridge.deadline import Deadline
from bridge.errors import (
    AkdlError,
    ChannelClosedError,
    JobAbortedError,
    PeerFailedError,
    SchemaMismatchError,
    TaskProcessExitedError,
    TaskTimeoutError,
)
from bridge.framing import DEFAULT_LIMITS, BatchLimits
from bridge.process import TaskProcess
from bridge.protos import channel_pb2, task_spec_pb2
from bridge.schema import Schema, TypeKind, parse_schema
from bridge.task_ref import TaskRef
from bridge.work_dir import TASK_SPEC_FILE, TIMEOUT_STACKS_FILE
from operators._metric_gauges import SubtaskGauges
from operators._stage_plan import StagePlan
from operators._warm_pool import adopt
from operators._work_dirs import create_work_dir, remove_dataset

__all__ = ["ColumnRowInput", "TaskSession"]

_log = logging.getLogger("akdl.session")
# After the process exits, how long its last message may still be in flight.
_EXIT_SETTLE_S = 3.0
_WAIT_STEP_S = 0.1
# How long past taskTimeoutS the subtask waits for the TF process to dump its stacks and exit
# before it stops the process itself.
_TIMEOUT_BACKSTOP_S = 15.0
# The longest a failure report to the coordinator may take (it only speeds up the peers' end).
_REPORT_TIMEOUT_S = 5.0
# Errors that came from the round's outcome: the coordinator knows them already.
_FROM_COORDINATOR = (JobAbortedError, PeerFailedError)

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _reports_failure(method: _Method) -> _Method:
    """Make a session method tell the stage's coordinator when it raises.

    The coordinator then aborts the round, so the task's peers stop within seconds instead of
    waiting for Flink's cancel or their own deadlines.
    """

    @functools.wraps(method)
    def reporting(self: TaskSession, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self.report_failure(exc)
            raise

    return reporting  # type: ignore[return-value]


class ColumnRowInput:
    """Rows -> ``ColumnBatch`` messages: values are kept per row and sent as columns.

    The row path's wire format: the TF process turns the columns into Example records (or
    feeds them to the model), so the subtask does no per-value encoding.
    """

    def __init__(self, schema: Schema, limits: BatchLimits = DEFAULT_LIMITS):
        self._schema = schema
        self._limits = limits
        self._rows: list[Sequence[Any]] = []
        self._bytes = 0
        # Fixed-width values count 8 bytes; strings, bytes and arrays their length.
        self._fixed_bytes = 8 * len(schema)
        self._variable = [i for i, t in enumerate(schema.types)
                          if t.is_array or t.kind in (TypeKind.STRING, TypeKind.BYTES)]

    def add(self, values: Sequence[Any]) -> bool:
        """Queue one row; returns True when a batch is full (rows or bytes) and should be sent."""
        self._rows.append(values)
        size = self._fixed_bytes
        for i in self._variable:
            value = values[i]
            if value is not None:
                size += len(value) * (8 if self._schema.types[i].is_array else 1)
        self._bytes += size
        return (len(self._rows) >= self._limits.max_records
                or self._bytes >= self._limits.max_batch_bytes)

    def __len__(self) -> int:
        return len(self._rows)

    def take(self) -> channel_pb2.ColumnBatch:
        """The pending rows as one batch of columns, removed.

        Raises:
            SchemaMismatchError: a value does not fit its column; names the column.
        """
        rows, self._rows, self._bytes = self._rows, [], 0
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(self._schema)
        data = []
        for field, values in zip(self._schema.fields, columns, strict=True):
            try:
                data.append(from_python(field.type, list(values)))
            except (ValueError, TypeError, OverflowError) as exc:
                raise self._mismatch(field, values) from exc
        return encode_batch(self._schema, data, len(rows))

    def _mismatch(self, field: Any, values: Sequence[Any]) -> SchemaMismatchError:
        """The error for a column whose values do not fit.

        It names the first culprit, found by the Example encoder's checks.
        """
        encoder = ExampleEncoder(Schema((field,)))
        for value in values:
            try:
                encoder.encode((value,))
            except SchemaMismatchError as exc:
                return exc
        return SchemaMismatchError(field.name, field.type.sql(), "a value that does not fit")


class TaskSession:
    """Owns one TF process: its work dir, channel server and process handle.

    Args:
        plan: the stage's plan.
        task: the task this subtask runs.
        coordinator: ``(address, token)`` of the stage's coordinator, or ``None`` to run alone.
        metric_group: the Flink function's metric group, for the task's metrics as gauges.
    """

    def __init__(
        self, plan: StagePlan, task: TaskRef, coordinator: tuple[str, str] | None = None,
        metric_group: Any | None = None,
    ):
        self.plan = plan
        self.task = task
        self.label = task.label
        self._coordinator = coordinator
        self._input = ColumnRowInput(parse_schema(plan.spec.input_schema))
        self._output_schema = parse_schema(plan.spec.output_schema)
        self._decoder = ExampleDecoder(self._output_schema)
        # Output items not yet taken: lists of records, or ColumnBatches (columnar path).
        self._pending: list[list[bytes] | channel_pb2.ColumnBatch] = []
        self._server: ChannelServer | None = None
        self._process: TaskProcess | None = None
        self._lifetime = Deadline(None, "")
        self._reported = False
        self._gauges = SubtaskGauges(metric_group)
        self.work_dir = ""
        self.failed = False

    @property
    def _who(self) -> str:
        return f"{self.plan.operator_name} {self.task.describe()}"

    @_reports_failure
    def start(self) -> None:
        """Create the work dir, start the channel server and spawn the TF process."""
        timeout_s = self.plan.spec.task_timeout_s
        self._lifetime = Deadline(timeout_s + _TIMEOUT_BACKSTOP_S if timeout_s else None, "")
        self.work_dir = create_work_dir(
            self.plan.work_dir_root, self.label, self.plan.operator_name
        )
        for name, content in self.plan.user_files:
            with open(os.path.join(self.work_dir, name), "wb") as f:
                f.write(content)
        self._server = ChannelServer(new_token())
        spec_path = os.path.join(self.work_dir, TASK_SPEC_FILE)
        with open(spec_path, "wb") as f:
            f.write(self._spec().SerializeToString())
        self._process = self._adopt_warm(spec_path) or self._spawn(spec_path)

    def report_failure(self, error: BaseException) -> None:
        """Tell the stage's coordinator that this task failed, once; never raises.

        Errors that came from the coordinator (a peer's failure, a cancel) are not reported
        back. Without a coordinator (a task alone) there is nobody to tell.
        """
        if self._reported or self._coordinator is None or isinstance(error, _FROM_COORDINATOR):
            return
        self._reported = True
        address, token = self._coordinator
        client = CoordinatorClient(address, token, self.task, _REPORT_TIMEOUT_S)
        try:
            client.report_done(False, f"{self._who} failed: {type(error).__name__}: {error}")
        except AkdlError as exc:
            _log.warning("%s: could not report its failure to the coordinator: %s", self._who, exc)
        finally:
            client.close()

    def _adopt_warm(self, spec_path: str) -> TaskProcess | None:
        """A warm process of the stage (loopback mode), handed this task; else ``None``."""
        process = adopt(self.plan.stage.stage_id)
        if process is None:
            return None
        process.adopt(self.label, self.plan.print_process_info)
        try:
            process.send_line(spec_path)
        except (BrokenPipeError, OSError):
            process.stop(0)
            return None
        _log.info("%s: adopted warm TF process pid %s for %s", self._who, process.pid,
                  self.work_dir)
        return process

    def _spawn(self, spec_path: str) -> TaskProcess:
        argv = [self.plan.python_executable, "-u", "-m", "akdl.runner", "--spec", spec_path]
        try:
            process = TaskProcess(
                argv,
                self.label,
                cwd=self.work_dir,
                env=self._child_env(),
                echo=self.plan.print_process_info,
            )
        except OSError as exc:
            raise AkdlError(
                f"{self._who}: could not start its TF process with {argv[0]} (pythonEnv): "
                f"{exc.strerror or exc}"
            ) from exc
        _log.info("%s: started TF process pid %s in %s", self._who, process.pid, self.work_dir)
        return process

    def _spec(self) -> task_spec_pb2.TaskSpec:
        spec = task_spec_pb2.TaskSpec()
        spec.CopyFrom(self.plan.spec)
        spec.task.CopyFrom(self.task.to_proto())
        spec.channel_address = self._server.address
        spec.token = self._server.token
        spec.work_dir = self.work_dir
        if self._coordinator is not None:
            spec.coordinator_address, spec.coordinator_token = self._coordinator
        return spec

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        paths = [self.work_dir] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def feed(self, values: Sequence[Any]) -> None:
        """Queue one row; sends a batch when one is full."""
        if self._input.add(values):
            self._send_batch()

    @_reports_failure
    def flush_input(self) -> None:
        """Send the queued rows now, even if the batch is not full (stream stages)."""
        if len(self._input):
            self._send_batch()

    @_reports_failure
    def poll(self) -> list[list[Any]]:
        """Output that has arrived so far; raises the task's error if its process ended badly.

        For periodic calls while no input arrives (stream stages): a crashed TF process is
        noticed here, not only when the next row is fed.
        """
        rows = self.take_output()
        if not self._settle_result():
            self._check_alive()
        return rows + self.take_output()

    def _settle_result(self) -> bool:
        """Whether the task's result has arrived; raises its error if it failed."""
        result = self._server.collector.result
        if result is None:
            return False
        self.failed = result.error is not None
        result.raise_if_failed(self.label, self.plan.operator_name)
        return True

    @_reports_failure
    def _send_batch(self) -> None:
        deadline = Deadline(
            self.plan.rpc_timeout_s, f"{self._who} to read its input", "rpcTimeoutS"
        )
        self._server.feed.put_columns(self._input.take(), deadline, self._while_blocked)

    def _while_blocked(self) -> None:
        self._pending.extend(self._server.collector.drain_items())
        self._check_alive()

    def _check_alive(self) -> None:
        """Raise if the TF process has exited without a result, or outlived ``taskTimeoutS``."""
        code = self._process.poll()
        if code is None:
            if self._lifetime.expired():
                self.failed = True
                self._process.stop(self.plan.grace_s)
                raise self._timeout_error()
            return
        settle = Deadline(_EXIT_SETTLE_S, f"the last message of {self._who}")
        while not settle.expired():
            self._pending.extend(self._server.collector.drain_items())
            if self._settle_result():
                return
            time.sleep(_WAIT_STEP_S)
        self.failed = True
        if self._dumped_stacks():
            raise self._timeout_error()
        raise TaskProcessExitedError(
            self.task.describe(), code, self._process.last_lines(), self.plan.operator_name
        )

    def _dumped_stacks(self) -> str:
        """The stacks the TF process dumped when ``taskTimeoutS`` expired; empty if none."""
        try:
            with open(os.path.join(self.work_dir, TIMEOUT_STACKS_FILE), encoding="utf-8",
                      errors="replace") as f:
                return f.read().strip()
        except OSError:
            return ""

    def _timeout_error(self) -> TaskTimeoutError:
        """The error for a task past ``taskTimeoutS``, with the stacks its process dumped."""
        stacks = self._dumped_stacks()
        if not stacks:
            stacks = (f"(the TF process dumped no stacks within {_TIMEOUT_BACKSTOP_S:g} s; it "
                      f"was stopped) its last output lines:\n{self._process.last_lines()}")
        return TaskTimeoutError(
            f"{self.plan.operator_name} {self.task.describe()}", self.plan.spec.task_timeout_s,
            stacks,
        )

    @property
    def has_output(self) -> bool:
        """Whether output rows are waiting; cheap enough to ask for every input row."""
        return bool(self._pending) or self._server.collector.available

    @_reports_failure
    def take_output(self) -> list[list[Any]]:
        """Decoded output rows that have arrived so far, without waiting."""
        self._pending.extend(self._server.collector.drain_items())
        self._gauges.sync(self._server.collector.metrics)
        return self._decode_pending()

    def _decode_pending(self) -> list[list[Any]]:
        if not self._pending:
            return []
        items, self._pending = self._pending, []
        decode = self._decoder.decode
        rows: list[Any] = []
        for item in items:
            if isinstance(item, channel_pb2.ColumnBatch):
                rows.extend(batch_rows(self._output_schema, item))
            else:
                rows.extend(decode(record) for record in item)
        return rows

    @_reports_failure
    def feed_columns(self, batch: channel_pb2.ColumnBatch) -> None:
        """Send one batch of rows as columns now (the columnar path)."""
        deadline = Deadline(
            self.plan.rpc_timeout_s, f"{self._who} to read its input", "rpcTimeoutS"
        )
        self._server.feed.put_columns(batch, deadline, self._while_blocked)

    @_reports_failure
    def exchange_columns(self, batch: channel_pb2.ColumnBatch) -> list[channel_pb2.ColumnBatch]:
        """Send a batch of columns and wait for the answer of every row (predict tasks).

        Returns:
            The output column batches, as many rows in all as ``batch`` has, in order.

        Raises:
            DeadlineExceeded: no complete answer within ``rpcTimeoutS``.
            TaskFailedError, TaskProcessExitedError: the task failed meanwhile.
        """
        self.feed_columns(batch)
        deadline = Deadline(
            self.plan.rpc_timeout_s, f"{self._who} to answer a batch", "rpcTimeoutS"
        )
        answers: list[channel_pb2.ColumnBatch] = []
        rows = 0
        while True:
            self._pending.extend(self._server.collector.wait_items(deadline.slice_s(_WAIT_STEP_S)))
            while self._pending and rows < batch.num_rows:
                item = self._pending.pop(0)
                if not isinstance(item, channel_pb2.ColumnBatch):
                    raise ChannelClosedError(f"{self._who} answered columns with records")
                answers.append(item)
                rows += item.num_rows
            if rows >= batch.num_rows:
                self._gauges.sync(self._server.collector.metrics)
                return answers
            if self._settle_result():
                raise ChannelClosedError(
                    f"{self._who} ended after answering {rows} of {batch.num_rows} rows"
                )
            self._check_alive()
            deadline.check(missing=f"answers for {batch.num_rows - rows} rows")

    @_reports_failure
    def finish(self, timeout_s: float | None = None) -> list[list[Any]]:
        """Send the rest of the input and end-of-input, then wait for the task's result.

        Returns the output rows not yet taken. Raises the task's error if it failed.
        """
        if len(self._input):
            self._send_batch()
        feed_deadline = Deadline(
            self.plan.rpc_timeout_s, f"{self._who} to read its input", "rpcTimeoutS"
        )
        self._server.feed.end(feed_deadline, self._while_blocked)
        deadline = Deadline(timeout_s, f"{self._who} to finish")
        collector = self._server.collector
        rows: list[list[Any]] = []
        while True:
            self._pending.extend(collector.wait_items(deadline.slice_s(_WAIT_STEP_S)))
            rows.extend(self._decode_pending())
            if self._settle_result():
                self._gauges.sync(self._server.collector.metrics)
                return rows
            self._check_alive()
            deadline.check(missing=f"the result of {self._who}")

    def close(self) -> None:
        """Stop the process and the server, and clean the work dir up.

        A task that reported success gets a moment to exit on its own; any other (a failed or
        cancelled one) is stopped at once. The work dir is removed, except that of a failed
        task, which is kept for diagnosis without its spooled shard; ``keepWorkDir`` keeps
        every work dir whole.
        """
        if self._process is not None:
            result = self._server.collector.result if self._server is not None else None
            succeeded = result is not None and result.error is None
            self._process.wait(2.0 if succeeded else 0)
            self._process.stop(self.plan.grace_s)
        if self._server is not None:
            self._server.close()
        if not self.work_dir:
            return
        if self.plan.keep_work_dir:
            _log.info("%s: its work dir is kept at %s (keepWorkDir)", self._who, self.work_dir)
        elif not self.failed:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        else:
            removed = remove_dataset(self.work_dir)
            _log.warning("%s failed; its work dir is kept at %s%s", self._who, self.work_dir,
                         " without its spooled input" if removed else "")
