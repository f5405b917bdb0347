"""Flink-side end of the data channel to one TF process (runs in the Flink Python worker).

The Flink subtask hosts a small gRPC server on loopback. Its TF process pulls input from it and
pushes output plus one final status to it. The servicer only translates messages; the state lives
in :class:`InputFeed` and :class:`OutputCollector`, which are plain objects, testable alone.

Lifetime: one :class:`ChannelServer` per TF process, closed when the subtask finishes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc

from bridge.auth import check_token
from bridge.deadline import Deadline
from bridge.errors import ChannelClosedError, TaskFailedError
from bridge.framing import (
    DEFAULT_LIMITS,
    GRPC_MAX_MESSAGE_BYTES,
    BatchLimits,
    RecordAssembler,
    message_parts,
)
from bridge.metrics import LatestMetrics
from bridge.protos import channel_pb2, channel_pb2_grpc

__all__ = ["ChannelServer", "InputFeed", "OutputCollector", "TaskResult"]

_POLL_S = 0.05

WaitCallback = Callable[[], None]


class InputFeed:
    """Bounded queue of input messages, filled by the subtask and drained by the TF process.

    ``put_records`` blocks while the queue is full, which is how Flink's backpressure reaches
    the source when TF consumes slowly. While blocked it calls ``on_wait`` so the caller can drain
    output and check that the TF process is still alive.
    """

    def __init__(self, limits: BatchLimits = DEFAULT_LIMITS, max_queued_messages: int = 8):
        self.limits = limits
        self._queue: queue.Queue[channel_pb2.InputMessage | None] = queue.Queue(
            max_queued_messages
        )
        self.records_sent = 0
        self.ended = False
        self._closed = threading.Event()

    def put_records(self, records: list[bytes], deadline: Deadline, on_wait: WaitCallback) -> None:
        """Queue records for the TF process, in batches and chunks."""
        for part in message_parts(records, self.limits):
            if isinstance(part, channel_pb2.RecordBatch):
                self._put(channel_pb2.InputMessage(batch=part), deadline, on_wait)
            else:
                self._put(channel_pb2.InputMessage(chunk=part), deadline, on_wait)
        self.records_sent += len(records)

    def put_columns(
        self, batch: channel_pb2.ColumnBatch, deadline: Deadline, on_wait: WaitCallback
    ) -> None:
        """Queue one batch of rows as columns (the columnar path)."""
        self._put(channel_pb2.InputMessage(columns=batch), deadline, on_wait)
        self.records_sent += batch.num_rows

    def end(self, deadline: Deadline, on_wait: WaitCallback) -> None:
        """Queue the end-of-input marker with the exact record count."""
        end = channel_pb2.EndOfInput(record_count=self.records_sent)
        self._put(channel_pb2.InputMessage(end=end), deadline, on_wait)
        self.ended = True

    def close(self) -> None:
        """Stop serving: a waiting reader returns at once."""
        self._closed.set()

    def _put(self, message: channel_pb2.InputMessage, deadline: Deadline, on_wait: WaitCallback):
        while True:
            if self._closed.is_set():
                raise ChannelClosedError("the input channel was closed while feeding it")
            try:
                self._queue.put(message, timeout=deadline.slice_s(_POLL_S))
                return
            except queue.Full:
                on_wait()
                deadline.check(missing="the TF process to read more input")

    def messages(self, is_active: Callable[[], bool]) -> Iterator[channel_pb2.InputMessage]:
        """Messages for the TF process, ending after end-of-input or when the reader leaves."""
        while not self._closed.is_set() and is_active():
            try:
                message = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            yield message
            if message.HasField("end"):
                return


class TaskResult:
    """The final status reported by a TF process: success counts, or its error."""

    def __init__(
        self, success: channel_pb2.TaskSuccess | None, error: channel_pb2.TaskError | None
    ):
        self.success = success
        self.error = error

    def raise_if_failed(self, task: str, operator: str = "") -> None:
        """Raise :class:`TaskFailedError` carrying the remote traceback if the task failed."""
        if self.error is not None:
            raise TaskFailedError(
                task,
                self.error.exception_type,
                self.error.message,
                self.error.traceback,
                operator,
            )


class OutputCollector:
    """Bounded buffer of output pushed by the TF process, plus its final status.

    Output arrives as records (``list[bytes]``) or, on the columnar path, as ``ColumnBatch``
    messages; a stage uses one form, and :meth:`drain` returns what came, in order.
    """

    def __init__(self, max_queued_batches: int = 8):
        self._queue: queue.Queue[list[bytes] | channel_pb2.ColumnBatch] = queue.Queue(
            max_queued_batches
        )
        self._result: TaskResult | None = None
        self._result_ready = threading.Event()
        self.records_received = 0
        # Set after each put, cleared before each drain: a lock-free hint for the hot path.
        self.available = False
        self._closed = threading.Event()
        # The latest value of each metric the task logged, for the subtask's gauges.
        self.metrics = LatestMetrics()

    def accept(self, messages: Iterator[channel_pb2.OutputMessage]) -> int:
        """Consume a PushOutput stream; blocks while the buffer is full. Returns the count."""
        assembler = RecordAssembler()
        for message in messages:
            kind = message.WhichOneof("kind")
            if kind == "batch":
                self._offer(assembler.add_batch(message.batch))
            elif kind == "chunk":
                self._offer(assembler.add_chunk(message.chunk))
            elif kind == "columns":
                self._offer_columns(message.columns)
            elif kind == "success":
                self._finish(TaskResult(message.success, None))
            elif kind == "error":
                self._finish(TaskResult(None, message.error))
            elif kind == "metrics":
                self.metrics.update(list(message.metrics.points))
        return self.records_received

    def _offer(self, records: list[bytes]) -> None:
        if records:
            self._enqueue(records, len(records))

    def _offer_columns(self, batch: channel_pb2.ColumnBatch) -> None:
        self._enqueue(batch, batch.num_rows)

    def _enqueue(self, item: list[bytes] | channel_pb2.ColumnBatch, rows: int) -> None:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                self.records_received += rows
                self.available = True
                return
            except queue.Full:
                continue

    def _finish(self, result: TaskResult) -> None:
        self._result = result
        self._result_ready.set()

    def drain(self) -> list[bytes]:
        """Every output record that has arrived so far, without waiting."""
        return _records(self.drain_items())

    def drain_items(self) -> list[list[bytes] | channel_pb2.ColumnBatch]:
        """Every output item (a list of records or a ``ColumnBatch``) so far, without waiting."""
        self.available = False
        out: list[list[bytes] | channel_pb2.ColumnBatch] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def wait(self, timeout_s: float) -> list[bytes]:
        """Wait up to ``timeout_s`` for output records; returns what arrived (maybe nothing)."""
        return _records(self.wait_items(timeout_s))

    def wait_items(self, timeout_s: float) -> list[list[bytes] | channel_pb2.ColumnBatch]:
        """Wait up to ``timeout_s`` for output items; returns what arrived (maybe nothing)."""
        try:
            first = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return []
        return [first, *self.drain_items()]

    @property
    def result(self) -> TaskResult | None:
        """The final status, once every output record before it has been drained."""
        if self._result_ready.is_set() and self._queue.empty():
            return self._result
        return None

    def close(self) -> None:
        """Stop accepting output; a blocked pusher returns."""
        self._closed.set()


def _records(items: list[list[bytes] | channel_pb2.ColumnBatch]) -> list[bytes]:
    out: list[bytes] = []
    for item in items:
        if isinstance(item, channel_pb2.ColumnBatch):
            raise ChannelClosedError("the TF process sent columns to a stage that reads records")
        out.extend(item)
    return out


class _TaskChannelServicer(channel_pb2_grpc.TaskChannelServicer):
    """Translates gRPC calls into InputFeed/OutputCollector calls, after checking the token."""

    def __init__(self, token: str, feed: InputFeed, collector: OutputCollector):
        self._token = token
        self._feed = feed
        self._collector = collector

    def PullInput(self, request, context):  # noqa: N802 (gRPC method name)
        """Stream the queued input to the TF process."""
        check_token(context, self._token)
        yield from self._feed.messages(context.is_active)

    def PushOutput(self, request_iterator, context):  # noqa: N802 (gRPC method name)
        """Receive the TF process's output and final status."""
        check_token(context, self._token)
        received = self._collector.accept(request_iterator)
        return channel_pb2.PushAck(records_received=received)


class ChannelServer:
    """A loopback gRPC server for one TF process's channel."""

    def __init__(self, token: str, limits: BatchLimits = DEFAULT_LIMITS):
        self.token = token
        self.feed = InputFeed(limits)
        self.collector = OutputCollector()
        options = [
            ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ]
        # One thread per RPC (pull, push) plus headroom for a rejected caller.
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
        channel_pb2_grpc.add_TaskChannelServicer_to_server(
            _TaskChannelServicer(token, self.feed, self.collector), self._server
        )
        port = self._server.add_insecure_port("127.0.0.1:0")
        if port == 0:
            raise ChannelClosedError("could not bind a loopback port for the data channel")
        self.address = f"127.0.0.1:{port}"
        self._server.start()

    def close(self, grace_s: float = 0.5) -> None:
        """Stop the server and release any blocked producer or consumer."""
        self.feed.close()
        self.collector.close()
        self._server.stop(grace_s).wait(grace_s + 1.0)
