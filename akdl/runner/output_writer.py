"""The ``output_writer`` of a task config (runs in the TF process).

Every record is checked against the declared output schema when it is written, so a mismatch
fails inside the user's code, at the offending ``write`` call, naming the column. Rows travel to
Flink as columns: the check decodes each record into its values, exactly as the Flink side
would, so FLOAT and DOUBLE values keep the float32 rounding of an Example.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.channel_client import OutputStream
from bridge.codec import ExampleDecoder, ExampleEncoder
from bridge.errors import ChannelClosedError
from bridge.schema import Schema

__all__ = ["OutputWriter"]


class OutputWriter:
    """Writes rows back to Flink as ``tf.train.Example`` records of the output schema.

    Lifetime: the user's ``main``; the runner closes it after ``main`` returns.
    """

    def __init__(self, stream: OutputStream, schema: Schema):
        self.schema = schema
        self._stream = stream
        self._encoder = ExampleEncoder(schema)
        self._decoder = ExampleDecoder(schema)
        self._closed = False

    def write(self, example: Any) -> None:
        """Write one ``tf.train.Example`` (or its serialized bytes) as one Flink row."""
        self._check_open()
        data = example if isinstance(example, bytes | bytearray) else example.SerializeToString()
        self._send(bytes(data))

    def write_row(self, row: Mapping[str, Any]) -> None:
        """Write one row given as ``{column: value}``; absent columns become NULL."""
        self._check_open()
        self._send(self._encoder.encode_dict(row))

    def _send(self, record: bytes) -> None:
        values = self._decoder.decode(record)  # raises SchemaMismatchError naming the column
        self._stream.write_values(values, len(record), self.schema)

    def _check_open(self) -> None:
        if self._closed:
            raise ChannelClosedError("output_writer was closed; no more rows can be written")

    def flush(self) -> None:
        """Send what was written so far to Flink now."""
        self._stream.flush()

    def close(self) -> None:
        """Flush; further writes fail. The runner reports the final status afterwards."""
        if not self._closed:
            self._stream.flush()
            self._closed = True

    @property
    def count(self) -> int:
        """Rows written so far."""
        return self._stream.records_written
