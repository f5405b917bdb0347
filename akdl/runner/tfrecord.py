"""Standard TFRecord files, written and read without TensorFlow.

Runs in the TF process. The runner spools its shard to ``<work_dir>/dataset.tfrecords`` while
TensorFlow is still importing, so this module must never import TensorFlow; it uses the
C-accelerated ``google_crc32c`` instead.

Each record is framed as TensorFlow frames it, so ``tf.data.TFRecordDataset`` reads the file::

    uint64 length (little-endian)
    uint32 masked CRC-32C of the 8 length bytes
    byte   data[length]
    uint32 masked CRC-32C of the data

where ``masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8`` modulo 2**32.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

import google_crc32c

from bridge.errors import AkdlError

__all__ = ["TFRecordCorruptError", "TFRecordWriter", "masked_crc32c", "read_tfrecords"]

_MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_HEADER_BYTES = _LENGTH.size + _CRC.size
_BATCH_RECORDS = 1024  # write_many hands the file this many records at a time


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C that TFRecord framing stores.

    Args:
        data: the bytes to checksum.

    Returns:
        The masked checksum, an unsigned 32-bit integer.
    """
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _as_bytes(record: Any) -> bytes:
    if isinstance(record, bytes | bytearray | memoryview):
        return bytes(record)
    raise TypeError(f"a TFRecord must be bytes, not {type(record).__name__}")


def _frame(record: Any) -> tuple[bytes, bytes, bytes]:
    """Header, data and footer of one record; raises TypeError for a non-bytes record."""
    if type(record) is not bytes:
        record = _as_bytes(record)
    length = _LENGTH.pack(len(record))
    header = length + _CRC.pack(masked_crc32c(length))
    return header, record, _CRC.pack(masked_crc32c(record))


class TFRecordWriter:
    """Writes records to a new TFRecord file.

    The writer owns its file from construction until `close` (or the end of a ``with``
    block); writing after that raises ``ValueError``.

    Args:
        path: the file to create (an existing file is truncated).
        buffer_bytes: size of the write buffer.
    """

    def __init__(self, path: str | os.PathLike[str], buffer_bytes: int = 1 << 20):
        self._path = os.fspath(path)
        self._file = open(self._path, "wb", buffering=buffer_bytes)  # owned until close()
        self._count = 0

    @property
    def path(self) -> str:
        """The file being written."""
        return self._path

    @property
    def count(self) -> int:
        """The exact number of records written so far."""
        return self._count

    @property
    def closed(self) -> bool:
        """Whether `close` has been called."""
        return self._file.closed

    def write(self, record: bytes) -> None:
        """Writes one record.

        Args:
            record: the record's bytes (``bytes``, ``bytearray`` or ``memoryview``).

        Raises:
            TypeError: the record is not bytes-like.
            ValueError: the writer is closed.
        """
        self._check_open()
        self._file.writelines(_frame(record))
        self._count += 1

    def write_many(self, records: Iterable[bytes]) -> None:
        """Writes records in order, handing the file large batches.

        If a record is not bytes-like, every record before it is still written, and `count`
        says how many.

        Args:
            records: the records' bytes.

        Raises:
            TypeError: a record is not bytes-like.
            ValueError: the writer is closed.
        """
        self._check_open()
        parts: list[bytes] = []
        pending = 0
        # The body of _frame and masked_crc32c, inlined: this loop runs once per record.
        crc32c, pack_length, pack_crc = google_crc32c.value, _LENGTH.pack, _CRC.pack
        try:
            for record in records:
                if type(record) is not bytes:
                    record = _as_bytes(record)
                length = pack_length(len(record))
                crc = crc32c(length)
                length_crc = (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
                crc = crc32c(record)
                data_crc = (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
                parts += (length, pack_crc(length_crc), record, pack_crc(data_crc))
                pending += 1
                if pending >= _BATCH_RECORDS:
                    self._file.writelines(parts)
                    self._count += pending
                    parts.clear()
                    pending = 0
        finally:
            if parts:
                self._file.writelines(parts)
                self._count += pending

    def flush(self) -> None:
        """Pushes buffered records to the operating system."""
        self._check_open()
        self._file.flush()

    def close(self) -> None:
        """Flushes and closes the file; calling it again does nothing."""
        self._file.close()

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._file.closed:
            raise ValueError(f"TFRecordWriter for {self._path} is closed")


class TFRecordCorruptError(AkdlError, ValueError):
    """A TFRecord file is truncated or fails its checksums.

    Attributes:
        path: the file.
        offset: the byte offset of the bad record's header.
        problem: what is wrong.
    """

    def __init__(self, path: str, offset: int, problem: str):
        self.path = path
        self.offset = offset
        self.problem = problem
        super().__init__(f"corrupt TFRecord file {path} at byte {offset}: {problem}")


def read_tfrecords(path: str | os.PathLike[str], verify: bool = True) -> Iterator[bytes]:
    """Reads the records of a TFRecord file, in pure Python (for tests and tools).

    Args:
        path: the file.
        verify: check both checksums of every record.

    Yields:
        Each record's bytes, in file order.

    Raises:
        TFRecordCorruptError: the file is truncated or a checksum does not match.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        offset = 0
        while True:
            header = f.read(_HEADER_BYTES)
            if not header:
                return
            if len(header) < _HEADER_BYTES:
                raise TFRecordCorruptError(name, offset, "truncated record header")
            length_bytes = header[: _LENGTH.size]
            (length,) = _LENGTH.unpack(length_bytes)
            (length_crc,) = _CRC.unpack_from(header, _LENGTH.size)
            if verify and masked_crc32c(length_bytes) != length_crc:
                raise TFRecordCorruptError(name, offset, "length checksum mismatch")
            data = f.read(length)
            footer = f.read(_CRC.size)
            if len(data) < length or len(footer) < _CRC.size:
                raise TFRecordCorruptError(
                    name, offset, f"truncated record (expected {length} data bytes)"
                )
            if verify and masked_crc32c(data) != _CRC.unpack(footer)[0]:
                raise TFRecordCorruptError(name, offset, "data checksum mismatch")
            yield data
            offset += _HEADER_BYTES + length + _CRC.size
