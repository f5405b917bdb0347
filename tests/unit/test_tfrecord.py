"""TFRecord files written without TensorFlow, read back by tf.data and by our own reader."""

import os
import random

import pytest
import tensorflow as tf

from akdl.runner.tfrecord import (
    TFRecordCorruptError,
    TFRecordWriter,
    masked_crc32c,
    read_tfrecords,
)


def make_records(n, seed=0):
    rng = random.Random(seed)
    records = [b"", b"\x00", b"x" * (1 << 20), os.urandom(1 << 20)]
    records += [rng.randbytes(rng.randrange(0, 3000)) for _ in range(n - len(records))]
    rng.shuffle(records)
    return records


def read_with_tf(path):
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path))]


def test_write_many_is_read_by_tf(tmp_path):
    records = make_records(3000)
    path = tmp_path / "dataset.tfrecords"
    with TFRecordWriter(path) as w:
        w.write_many(records)
        assert w.count == len(records)
    assert w.closed
    assert read_with_tf(path) == records
    assert list(read_tfrecords(path)) == records


def test_write_one_by_one_and_mixed(tmp_path):
    records = make_records(50, seed=1)
    path = tmp_path / "one.tfrecords"
    w = TFRecordWriter(str(path))
    assert w.path == str(path)
    for i, r in enumerate(records[:20]):
        w.write(r if i % 2 else bytearray(r))
    w.write_many(iter(records[20:30]))
    w.write_many(memoryview(r) for r in records[30:])
    w.write_many([])
    assert w.count == len(records)
    w.close()
    w.close()  # idempotent
    assert read_with_tf(path) == records
    assert list(read_tfrecords(path)) == records


def test_matches_tf_writer_bytes(tmp_path):
    records = [b"", b"abc", bytes(range(256)) * 50]
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with TFRecordWriter(ours) as w:
        w.write_many(records)
    with tf.io.TFRecordWriter(str(theirs)) as tw:
        for r in records:
            tw.write(r)
    assert ours.read_bytes() == theirs.read_bytes()


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tfrecords"
    with TFRecordWriter(path) as w:
        pass
    assert w.count == 0
    assert path.stat().st_size == 0
    assert read_with_tf(path) == []
    assert list(read_tfrecords(path)) == []


def test_count_is_exact_when_a_record_is_bad(tmp_path):
    path = tmp_path / "partial.tfrecords"
    with TFRecordWriter(path) as w:
        with pytest.raises(TypeError, match="must be bytes, not str"):
            w.write_many([b"a", b"b", "c", b"d"])
        assert w.count == 2
        with pytest.raises(TypeError):
            w.write(None)  # type: ignore[arg-type]
        assert w.count == 2
    assert read_with_tf(path) == [b"a", b"b"]


def test_closed_writer_refuses(tmp_path):
    w = TFRecordWriter(tmp_path / "c.tfrecords")
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(b"x")
    with pytest.raises(ValueError, match="closed"):
        w.write_many([b"x"])


def test_masked_crc_matches_tf_framing(tmp_path):
    path = str(tmp_path / "tf.tfrecords")
    with tf.io.TFRecordWriter(path) as tw:
        tw.write(b"abc")
    framed = (tmp_path / "tf.tfrecords").read_bytes()
    assert framed[:8] == (3).to_bytes(8, "little")
    assert int.from_bytes(framed[8:12], "little") == masked_crc32c(framed[:8])
    assert int.from_bytes(framed[15:19], "little") == masked_crc32c(b"abc")


def test_reader_detects_corruption(tmp_path):
    path = tmp_path / "bad.tfrecords"
    with TFRecordWriter(path) as w:
        w.write_many([b"hello", b"world"])
    good = path.read_bytes()

    flipped = bytearray(good)
    flipped[12] ^= 0x01  # first data byte
    path.write_bytes(bytes(flipped))
    with pytest.raises(TFRecordCorruptError, match="data checksum mismatch") as e:
        list(read_tfrecords(path))
    assert e.value.offset == 0
    assert list(read_tfrecords(path, verify=False))[1] == b"world"

    flipped = bytearray(good)
    flipped[21 + 3] ^= 0x01  # second record's length
    path.write_bytes(bytes(flipped))
    with pytest.raises(TFRecordCorruptError, match="length checksum mismatch") as e:
        list(read_tfrecords(path))
    assert e.value.offset == 21

    path.write_bytes(good[:-2])
    with pytest.raises(TFRecordCorruptError, match="truncated record"):
        list(read_tfrecords(path))
    path.write_bytes(good[:25])
    with pytest.raises(TFRecordCorruptError, match="truncated record header"):
        list(read_tfrecords(path))
