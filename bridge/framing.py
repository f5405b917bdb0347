"""Batching and chunking of serialized records into channel messages (both processes).

Records travel in batches of up to ``max_records`` records or ``max_batch_bytes`` bytes. A record
larger than one message travels as a run of chunks, so no record is ever dropped or truncated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bridge.protos import channel_pb2

__all__ = ["DEFAULT_LIMITS", "BatchLimits", "RecordAssembler", "RecordBatcher", "message_parts"]

DEFAULT_MAX_RECORDS = 1024
DEFAULT_MAX_BATCH_BYTES = 2 << 20
# Both ends configure gRPC with this limit. Record batches stay near DEFAULT_MAX_BATCH_BYTES
# (larger records travel as chunks); a columnar batch is cut to about that size too, but one row
# of a huge value (say a 64 MiB string) travels whole, so the limit leaves room for it.
GRPC_MAX_MESSAGE_BYTES = 512 << 20


@dataclass(frozen=True)
class BatchLimits:
    """When a batch is full, and how large one chunk of an oversized record may be."""

    max_records: int = DEFAULT_MAX_RECORDS
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES

    @property
    def chunk_bytes(self) -> int:
        """Size of one chunk of a record that does not fit a batch."""
        return self.max_batch_bytes


DEFAULT_LIMITS = BatchLimits()


class RecordBatcher:
    """Accumulates records and says when a batch is due. Not thread-safe."""

    def __init__(self, limits: BatchLimits = DEFAULT_LIMITS):
        self.limits = limits
        self._records: list[bytes] = []
        self._bytes = 0

    def add(self, record: bytes) -> bool:
        """Append one record; returns True when the batch is full and should be taken."""
        self._records.append(record)
        self._bytes += len(record)
        return (
            len(self._records) >= self.limits.max_records
            or self._bytes >= self.limits.max_batch_bytes
        )

    def __len__(self) -> int:
        return len(self._records)

    def take(self) -> list[bytes]:
        """Remove and return the pending records."""
        records, self._records, self._bytes = self._records, [], 0
        return records


def message_parts(
    records: list[bytes], limits: BatchLimits
) -> Iterator[channel_pb2.RecordBatch | channel_pb2.RecordChunk]:
    """Split records into whole-record batches and chunks of oversized records, in order."""
    if len(records) <= limits.max_records and sum(map(len, records)) <= limits.max_batch_bytes:
        # The common case (one full batch from a RecordBatcher): no per-record Python loop.
        if records:
            yield channel_pb2.RecordBatch(records=records)
        return
    pending: list[bytes] = []
    pending_bytes = 0
    for record in records:
        if len(record) > limits.chunk_bytes:
            if pending:
                yield channel_pb2.RecordBatch(records=pending)
                pending, pending_bytes = [], 0
            view = memoryview(record)
            for start in range(0, len(record), limits.chunk_bytes):
                end = start + limits.chunk_bytes
                yield channel_pb2.RecordChunk(data=bytes(view[start:end]), last=end >= len(record))
            continue
        if pending and (
            pending_bytes + len(record) > limits.max_batch_bytes
            or len(pending) >= limits.max_records
        ):
            yield channel_pb2.RecordBatch(records=pending)
            pending, pending_bytes = [], 0
        pending.append(record)
        pending_bytes += len(record)
    if pending:
        yield channel_pb2.RecordBatch(records=pending)


class RecordAssembler:
    """Rebuilds records from batches and chunks, in arrival order. Not thread-safe."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def add_batch(self, batch: channel_pb2.RecordBatch) -> list[bytes]:
        """Records of a whole-record batch."""
        if self._parts:
            raise ValueError("a record batch arrived in the middle of a chunked record")
        return list(batch.records)

    def add_chunk(self, chunk: channel_pb2.RecordChunk) -> list[bytes]:
        """Returns the completed record when ``chunk`` is its last piece, else nothing."""
        self._parts.append(chunk.data)
        if not chunk.last:
            return []
        record = b"".join(self._parts)
        self._parts = []
        return [record]

    @property
    def incomplete(self) -> bool:
        """Whether a chunked record has started but not finished."""
        return bool(self._parts)
