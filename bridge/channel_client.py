"""TF-process end of the data channel (runs in the TF process, never imports TensorFlow).

:class:`ChannelClient` pulls the subtask's input and opens an :class:`OutputStream` that pushes
output records and, last, exactly one success or error status.

Lifetime: one client per TF process.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import grpc

from bridge.auth import token_metadata
from bridge.column_batch import encode_batch, from_python
from bridge.column_types import Schema
from bridge.deadline import Deadline
from bridge.errors import ChannelClosedError
from bridge.framing import (
    DEFAULT_LIMITS,
    GRPC_MAX_MESSAGE_BYTES,
    BatchLimits,
    RecordAssembler,
    RecordBatcher,
    message_parts,
)
from bridge.protos import channel_pb2, channel_pb2_grpc

__all__ = ["ChannelClient", "OutputStream"]

_POLL_S = 0.05


class ChannelClient:
    """Connects a TF process to the Flink subtask that spawned it."""

    def __init__(self, address: str, token: str, task: channel_pb2.TaskId, timeout_s: float):
        self.task = task
        self.timeout_s = timeout_s
        self._metadata = token_metadata(token)
        options = [
            ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
        ]
        self._channel = grpc.insecure_channel(address, options=options)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError as exc:
            raise Deadline(timeout_s, f"the data channel at {address}").error() from exc
        self._stub = channel_pb2_grpc.TaskChannelStub(self._channel)

    def record_batches(self) -> Iterator[list[bytes]]:
        """Input records in arrival order, a batch at a time; checks the end-of-input count."""
        for batch in self.input_batches():
            if isinstance(batch, channel_pb2.ColumnBatch):
                raise ChannelClosedError("the Flink side sent columns to a task that reads records")
            yield batch

    def input_batches(self) -> Iterator[list[bytes] | channel_pb2.ColumnBatch]:
        """Input in arrival order: lists of records, or ``ColumnBatch`` messages (columnar path).

        Checks the end-of-input count, which counts rows of both forms.
        """
        assembler = RecordAssembler()
        received = 0
        request = channel_pb2.PullRequest(task=self.task)
        try:
            for message in self._stub.PullInput(request, metadata=self._metadata):
                kind = message.WhichOneof("kind")
                if kind == "columns":
                    received += message.columns.num_rows
                    yield message.columns
                    continue
                if kind == "batch":
                    records = assembler.add_batch(message.batch)
                elif kind == "chunk":
                    records = assembler.add_chunk(message.chunk)
                else:
                    if received != message.end.record_count or assembler.incomplete:
                        raise ChannelClosedError(
                            f"input ended after {received} records, "
                            f"but the Flink side sent {message.end.record_count}"
                        )
                    return
                received += len(records)
                if records:
                    yield records
        except grpc.RpcError as exc:
            raise ChannelClosedError(f"input channel failed: {exc.details()}") from exc
        raise ChannelClosedError(f"input channel closed after {received} records, before its end")

    def records(self) -> Iterator[bytes]:
        """Input records one by one."""
        for batch in self.record_batches():
            yield from batch

    def open_output(self, limits: BatchLimits = DEFAULT_LIMITS, linger_s: float = 0.05):
        """Start the output stream; see :class:`OutputStream`."""
        return OutputStream(self._stub, self._metadata, limits, linger_s, self.timeout_s)

    def close(self) -> None:
        """Close the gRPC channel."""
        self._channel.close()


class OutputStream:
    """Pushes output in batches; a background sender owns the gRPC call.

    Output is serialized records (`write`) or rows of values that travel as columns
    (`write_values`, what the script's ``output_writer`` uses). Both are sent when a batch fills
    up or ``linger_s`` after the first pending row, so a streaming script's outputs reach Flink
    promptly even when it writes rarely. Memory is bounded: writes block while the send queue
    is full.
    """

    def __init__(self, stub, metadata, limits: BatchLimits, linger_s: float, timeout_s: float):
        self._limits = limits
        self._linger_s = linger_s
        self._timeout_s = timeout_s
        self._batcher = RecordBatcher(limits)
        self._rows: list[list] = []
        self._rows_bytes = 0
        self._rows_schema: Schema | None = None
        self._first_pending_at: float | None = None
        self._lock = threading.Lock()
        self._queue: queue.Queue[channel_pb2.OutputMessage | None] = queue.Queue(8)
        self.records_written = 0
        self._finished = False
        self._call_error: BaseException | None = None
        self._ack: channel_pb2.PushAck | None = None
        self._sender = threading.Thread(
            target=self._send, args=(stub, metadata), name="akdl-output-sender", daemon=True
        )
        self._sender.start()
        self._flusher = threading.Thread(target=self._linger_loop, name="akdl-output-linger",
                                         daemon=True)
        self._flusher.start()

    def _send(self, stub, metadata) -> None:
        def messages():
            while True:
                message = self._queue.get()
                if message is None:
                    return
                yield message

        try:
            self._ack = stub.PushOutput(messages(), metadata=metadata)
        except grpc.RpcError as exc:
            self._call_error = exc

    def _linger_loop(self) -> None:
        while not self._finished:
            time.sleep(self._linger_s / 2)
            with self._lock:
                due = self._first_pending_at is not None and (
                    time.monotonic() - self._first_pending_at >= self._linger_s
                )
                if due and not self._finished:
                    self._flush_locked()

    def _admit_locked(self) -> None:
        """Count one more row, starting the linger clock; caller holds the lock."""
        if self._finished:
            raise ChannelClosedError("output was already closed")
        if self._first_pending_at is None:
            self._first_pending_at = time.monotonic()
        self.records_written += 1

    def write(self, record: bytes) -> None:
        """Queue one serialized record for Flink."""
        with self._lock:
            self._admit_locked()
            if self._batcher.add(record):
                self._flush_locked()

    def write_values(self, values: list, size: int, schema: Schema) -> None:
        """Queue one row of ``schema``'s values (already checked) to go to Flink as columns.

        Args:
            values: the row's values, as `bridge.column_batch.to_python` gives them.
            size: about how many bytes the row takes, for cutting batches.
            schema: the output schema (the same for every row of a stream).
        """
        with self._lock:
            self._admit_locked()
            self._rows_schema = schema
            self._rows.append(values)
            self._rows_bytes += size
            if (len(self._rows) >= self._limits.max_records
                    or self._rows_bytes >= self._limits.max_batch_bytes):
                self._flush_locked()

    def flush(self) -> None:
        """Send every pending record now."""
        with self._lock:
            self._flush_locked()

    def _flush_rows_locked(self) -> None:
        rows, self._rows, self._rows_bytes = self._rows, [], 0
        schema = self._rows_schema
        columns = [from_python(t, list(c)) for t, c in zip(schema.types, zip(*rows), strict=True)]
        self._put(channel_pb2.OutputMessage(columns=encode_batch(schema, columns, len(rows))))

    def _flush_locked(self) -> None:
        if self._rows:
            self._flush_rows_locked()
        records = self._batcher.take()
        self._first_pending_at = None
        for part in message_parts(records, self._limits):
            if isinstance(part, channel_pb2.RecordBatch):
                self._put(channel_pb2.OutputMessage(batch=part))
            else:
                self._put(channel_pb2.OutputMessage(chunk=part))

    def _put(self, message: channel_pb2.OutputMessage | None) -> None:
        deadline = Deadline(self._timeout_s, "Flink to accept output", "rpcTimeoutS")
        while True:
            if self._call_error is not None or not self._sender.is_alive():
                raise ChannelClosedError(f"output channel failed: {self._call_error}")
            try:
                self._queue.put(message, timeout=deadline.slice_s(_POLL_S))
                return
            except queue.Full:
                deadline.check()

    def write_columns(self, batch: channel_pb2.ColumnBatch) -> None:
        """Send one batch of output rows as columns (the columnar path), after what is pending."""
        with self._lock:
            if self._finished:
                raise ChannelClosedError("output was already closed")
            self._flush_locked()
            self.records_written += batch.num_rows
            self._put(channel_pb2.OutputMessage(columns=batch))

    def write_metrics(self, points: list[channel_pb2.MetricPoint]) -> None:
        """Send metric points for the subtask's gauges; dropped once the output is closed."""
        with self._lock:
            if not self._finished:
                self._put(channel_pb2.OutputMessage(metrics=channel_pb2.Metrics(points=points)))

    def succeed(self, records_read: int) -> None:
        """Flush, then report success with the counts, and wait for Flink's acknowledgement."""
        success = channel_pb2.TaskSuccess(
            records_read=records_read, records_written=self.records_written
        )
        self._finish(channel_pb2.OutputMessage(success=success), flush=True)

    def fail(self, error: channel_pb2.TaskError) -> None:
        """Flush what was written, then report the error; best effort."""
        self._finish(channel_pb2.OutputMessage(error=error), flush=True)

    def _finish(self, final: channel_pb2.OutputMessage, flush: bool) -> None:
        with self._lock:
            if self._finished:
                return
            if flush:
                self._flush_locked()
            self._finished = True
            self._put(final)
            self._put(None)
        self._sender.join(self._timeout_s)
        if self._sender.is_alive():
            raise Deadline(self._timeout_s, "Flink to acknowledge the output").error()
        if self._call_error is not None:
            raise ChannelClosedError(f"output channel failed: {self._call_error}")
