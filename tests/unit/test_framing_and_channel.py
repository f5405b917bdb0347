"""Batching, chunking and the loopback data channel, with a real gRPC server and client."""

import os
import threading
import time

import pytest

from bridge.channel import ChannelServer, InputFeed
from bridge.channel_client import ChannelClient
from bridge.deadline import Deadline
from bridge.errors import ChannelClosedError, DeadlineExceeded, TaskFailedError
from bridge.framing import BatchLimits, RecordAssembler, RecordBatcher, message_parts
from bridge.protos import channel_pb2

TOKEN = "secret-token"
MIB = 1 << 20
CHIEF = channel_pb2.TaskId(role=channel_pb2.WORKER, index=0)


def no_wait():
    pass


def forever(what="test input to be read"):
    return Deadline(30, what, "rpcTimeoutS")


def kinds(parts):
    """A compact picture of message_parts output: ('B', records) or ('C', data, last)."""
    out = []
    for part in parts:
        if isinstance(part, channel_pb2.RecordBatch):
            out.append(("B", list(part.records)))
        else:
            out.append(("C", part.data, part.last))
    return out


def reassemble(parts):
    assembler = RecordAssembler()
    records = []
    for part in parts:
        if isinstance(part, channel_pb2.RecordBatch):
            records += assembler.add_batch(part)
        else:
            records += assembler.add_chunk(part)
    assert not assembler.incomplete
    return records


# --- framing ---------------------------------------------------------------------------------


def test_batcher_is_full_at_max_records():
    batcher = RecordBatcher(BatchLimits(max_records=3, max_batch_bytes=1000))
    assert [batcher.add(b"r") for _ in range(3)] == [False, False, True]
    assert len(batcher) == 3
    assert batcher.take() == [b"r", b"r", b"r"]
    assert len(batcher) == 0
    assert batcher.add(b"r") is False  # counters were reset by take()


def test_batcher_is_full_at_max_bytes():
    batcher = RecordBatcher(BatchLimits(max_records=100, max_batch_bytes=10))
    assert batcher.add(b"12345") is False
    assert batcher.add(b"1234") is False
    assert batcher.add(b"1") is True
    assert batcher.take() == [b"12345", b"1234", b"1"]
    assert batcher.add(b"x" * 9) is False


def test_batcher_counts_empty_records():
    batcher = RecordBatcher(BatchLimits(max_records=2, max_batch_bytes=10))
    assert batcher.add(b"") is False
    assert batcher.add(b"") is True
    assert batcher.take() == [b"", b""]


def test_message_parts_keeps_order_of_small_and_chunked_records():
    limits = BatchLimits(max_records=100, max_batch_bytes=10)
    big = bytes(range(25))
    records = [b"a", b"bb", big, b"c" * 10, b"d", b"", b"e" * 11]
    assert kinds(message_parts(records, limits)) == [
        ("B", [b"a", b"bb"]),
        ("C", big[:10], False),
        ("C", big[10:20], False),
        ("C", big[20:], True),
        ("B", [b"c" * 10]),  # exactly chunk_bytes still travels whole
        ("B", [b"d", b""]),
        ("C", b"e" * 10, False),
        ("C", b"e", True),
    ]


def test_message_parts_batches_never_exceed_max_batch_bytes():
    limits = BatchLimits(max_records=1000, max_batch_bytes=100)
    records = [os.urandom(n) for n in [30, 40, 50, 60, 70, 80, 90, 100, 1, 0, 99]]
    parts = list(message_parts(records, limits))
    for part in parts:
        assert isinstance(part, channel_pb2.RecordBatch)
        assert sum(map(len, part.records)) <= 100
    assert reassemble(parts) == records


def test_message_parts_batches_never_exceed_max_records():
    limits = BatchLimits(max_records=4, max_batch_bytes=1000)
    parts = list(message_parts([b"x"] * 10, limits))
    assert [len(p.records) for p in parts] == [4, 4, 2]


def test_message_parts_of_nothing_is_nothing():
    assert list(message_parts([], BatchLimits())) == []


def test_assembler_rebuilds_a_20_mib_record_between_small_ones():
    big = os.urandom(20 * MIB)
    records = [b"head", b"", big, b"tail"]
    parts = list(message_parts(records, BatchLimits()))
    chunks = [p for p in parts if isinstance(p, channel_pb2.RecordChunk)]
    assert len(chunks) == 10  # 20 MiB in 2 MiB chunks
    assert [c.last for c in chunks] == [False] * 9 + [True]
    assert reassemble(parts) == records


def test_assembler_rejects_a_batch_in_the_middle_of_a_chunked_record():
    assembler = RecordAssembler()
    assert assembler.add_chunk(channel_pb2.RecordChunk(data=b"part", last=False)) == []
    assert assembler.incomplete
    with pytest.raises(ValueError, match="middle of a chunked record"):
        assembler.add_batch(channel_pb2.RecordBatch(records=[b"x"]))


# --- channel ---------------------------------------------------------------------------------


@pytest.fixture
def server():
    srv = ChannelServer(TOKEN)
    yield srv
    srv.close()


@pytest.fixture
def client(server):
    cli = ChannelClient(server.address, TOKEN, CHIEF, timeout_s=10)
    yield cli
    cli.close()


class Feeder(threading.Thread):
    """Feeds records and end-of-input from a thread, as the Flink subtask does."""

    def __init__(self, server, records, end=True):
        super().__init__(daemon=True)
        self.server, self.records, self.end, self.error = server, records, end, None

    def run(self):
        try:
            self.server.feed.put_records(self.records, forever(), no_wait)
            if self.end:
                self.server.feed.end(forever(), no_wait)
        except BaseException as exc:  # surfaced by finish()
            self.error = exc

    def finish(self):
        self.join(30)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error


def read_all(client):
    return [record for batch in client.record_batches() for record in batch]


def test_server_listens_on_loopback(server):
    assert server.address.startswith("127.0.0.1:")


def test_input_arrives_in_order_including_empty_and_20_mib_records(server, client):
    big = os.urandom(20 * MIB)
    records = [b""] + [f"row-{i}".encode() for i in range(3000)] + [big, b"", b"after-big"]
    feeder = Feeder(server, records)
    feeder.start()
    received = read_all(client)
    feeder.finish()
    assert len(received) == len(records)
    assert received == records
    assert server.feed.records_sent == len(records)
    assert server.feed.ended


def test_input_of_several_put_calls_keeps_order(server, client):
    def feed():
        for start in range(0, 5000, 1000):
            server.feed.put_records(
                [str(i).encode() for i in range(start, start + 1000)], forever(), no_wait
            )
        server.feed.end(forever(), no_wait)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    received = read_all(client)
    thread.join(10)
    assert received == [str(i).encode() for i in range(5000)]


def test_empty_input_ends_cleanly(server, client):
    server.feed.end(forever(), no_wait)
    assert list(client.record_batches()) == []


def test_wrong_token_is_rejected(server, client):
    server.feed.put_records([b"x"], forever(), no_wait)
    server.feed.end(forever(), no_wait)
    intruder = ChannelClient(server.address, "wrong-token", CHIEF, timeout_s=10)
    try:
        with pytest.raises(ChannelClosedError, match="wrong akdl job token"):
            list(intruder.record_batches())
    finally:
        intruder.close()
    assert read_all(client) == [b"x"]  # the rejected caller took nothing


def test_wrong_token_cannot_push_output(server):
    intruder = ChannelClient(server.address, "wrong-token", CHIEF, timeout_s=10)
    try:
        out = intruder.open_output()
        with pytest.raises(ChannelClosedError, match="output channel failed"):
            out.write(b"x")
            out.succeed(0)
    finally:
        intruder.close()
    assert server.collector.drain() == []
    assert server.collector.result is None


def test_end_of_input_count_mismatch_is_detected(server, client):
    server.feed.put_records([b"a", b"b", b"c"], forever(), no_wait)
    server.feed.records_sent = 5  # the Flink side claims two more than it queued
    server.feed.end(forever(), no_wait)
    with pytest.raises(ChannelClosedError, match="input ended after 3 records, but the Flink "
                                                 "side sent 5"):
        read_all(client)


def test_input_closed_before_its_end_is_an_error(server, client):
    server.feed.put_records([b"a", b"b"], forever(), no_wait)
    batches = client.record_batches()
    assert next(batches) == [b"a", b"b"]
    server.feed.close()
    with pytest.raises(ChannelClosedError, match="closed after 2 records, before its end"):
        next(batches)


def small_batches_server():
    """A server whose every 16-byte record is one message, so the 8-message queue fills."""
    return ChannelServer(TOKEN, BatchLimits(max_records=1024, max_batch_bytes=16))


def test_feed_without_reader_blocks_and_calls_on_wait_until_deadline():
    srv = small_batches_server()
    waits = []
    try:
        deadline = Deadline(0.5, "chief:0 to read its input", "rpcTimeoutS")
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded) as info:
            srv.feed.put_records([b"x" * 16] * 20, deadline, lambda: waits.append(1))
        elapsed = time.monotonic() - start
    finally:
        srv.close()
    assert 0.4 <= elapsed < 5
    assert len(waits) >= 3
    err = info.value
    assert err.waited_for == "chief:0 to read its input"
    assert err.setting == "rpcTimeoutS"
    assert err.missing == "the TF process to read more input"
    assert "waiting for chief:0 to read its input" in str(err)
    assert "raise the limit with rpcTimeoutS" in str(err)
    assert srv.feed.records_sent == 0  # put_records did not complete


def test_feed_queue_is_bounded_with_a_fake_clock():
    now = [0.0]
    feed = InputFeed(BatchLimits(max_records=1024, max_batch_bytes=16), max_queued_messages=8)
    waits = []

    def on_wait():
        waits.append(now[0])
        now[0] += 0.25

    deadline = Deadline(1.0, "input to be read", "rpcTimeoutS", clock=lambda: now[0])
    with pytest.raises(DeadlineExceeded):
        feed.put_records([b"x" * 16] * 20, deadline, on_wait)
    assert waits == [0.0, 0.25, 0.5, 0.75]
    stop_at = time.monotonic() + 0.3
    queued = list(feed.messages(lambda: time.monotonic() < stop_at))
    assert len(queued) == 8  # exactly the bound, no more
    assert [list(m.batch.records) for m in queued] == [[b"x" * 16]] * 8


def test_blocked_feed_resumes_when_the_reader_starts():
    srv = small_batches_server()
    cli = ChannelClient(srv.address, TOKEN, CHIEF, timeout_s=10)
    records = [f"{i:016d}".encode() for i in range(50)]
    waited = threading.Event()
    try:
        thread = threading.Thread(
            target=lambda: (
                srv.feed.put_records(records, forever(), waited.set),
                srv.feed.end(forever(), no_wait),
            ),
            daemon=True,
        )
        thread.start()
        assert waited.wait(5), "put_records never blocked on the full queue"
        assert read_all(cli) == records
        thread.join(5)
        assert not thread.is_alive()
    finally:
        cli.close()
        srv.close()


def test_closing_the_server_releases_a_blocked_feeder():
    srv = small_batches_server()
    waited, errors = threading.Event(), []

    def feed():
        try:
            srv.feed.put_records([b"x" * 16] * 20, forever(), waited.set)
        except ChannelClosedError as exc:
            errors.append(exc)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    assert waited.wait(5)
    srv.close()
    thread.join(5)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert "closed while feeding" in str(errors[0])


def test_output_arrives_in_order_with_success_counts(server, client):
    big = os.urandom(20 * MIB)
    records = [b"", b"first", big, b"", b"last"]
    out = client.open_output()
    writer = threading.Thread(
        target=lambda: ([out.write(r) for r in records], out.succeed(7)), daemon=True
    )
    writer.start()
    received = []
    collector = server.collector
    deadline = time.monotonic() + 30
    while collector.result is None and time.monotonic() < deadline:
        received += collector.wait(0.1)
    writer.join(10)
    assert received == records
    result = collector.result
    assert result is not None and result.error is None
    assert result.success.records_read == 7
    assert result.success.records_written == len(records)
    assert collector.records_received == len(records)
    result.raise_if_failed("chief:0")  # no error: does not raise


def test_result_waits_until_output_is_drained(server, client):
    out = client.open_output()
    out.write(b"a")
    out.write(b"b")
    out.succeed(2)
    assert server.collector.result is None  # records still queued before the status
    assert server.collector.drain() == [b"a", b"b"]
    assert server.collector.result.success.records_written == 2


def test_task_error_reaches_the_collector_and_raises_task_failed(server, client):
    tb = 'Traceback (most recent call last):\n  File "main.py", line 3\nValueError: boom\n'
    out = client.open_output()
    out.write(b"partial")
    out.fail(channel_pb2.TaskError(task=CHIEF, exception_type="ValueError", message="boom",
                                   traceback=tb))
    assert server.collector.drain() == [b"partial"]
    result = server.collector.result
    assert result.success is None
    assert result.error.message == "boom"
    assert result.error.exception_type == "ValueError"
    with pytest.raises(TaskFailedError) as info:
        result.raise_if_failed("chief:0", "TensorFlowOp")
    err = info.value
    assert err.task == "chief:0"
    assert err.remote_message == "boom"
    assert err.remote_traceback == tb
    text = str(err)
    assert text.startswith("TensorFlowOp TF process chief:0 failed with ValueError: boom")
    assert 'File "main.py", line 3' in text


def test_single_write_is_sent_after_linger_without_flush(server, client):
    out = client.open_output(linger_s=0.05)
    out.write(b"lonely")
    received = []
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        received = server.collector.wait(0.1)
    assert received == [b"lonely"]
    out.succeed(0)
    assert server.collector.result.success.records_written == 1


def test_write_after_succeed_is_rejected(server, client):
    out = client.open_output()
    out.succeed(0)
    with pytest.raises(ChannelClosedError, match="already closed"):
        out.write(b"late")
