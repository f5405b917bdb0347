"""The live input of a stream task: a single-pass ``tf.data`` dataset fed from Flink (TF process).

The dataset pulls record batches from the channel while ``main`` runs, so rows reach the
script as Flink produces them. Batches (not single records) cross into TensorFlow, which is
much cheaper than one Python call per record; ``unbatch`` restores one element per record.

Memory stays bounded: the channel holds a few batches, and Flink's backpressure stops the
source while the script is busy.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from bridge.channel_client import ChannelClient
from bridge.codec import ExampleEncoder
from bridge.column_batch import batch_rows
from bridge.column_types import Schema
from bridge.errors import AkdlError
from bridge.protos.channel_pb2 import ColumnBatch

__all__ = ["DatasetReusedError", "LiveInput"]

_log = logging.getLogger("akdl.runner")


class DatasetReusedError(AkdlError):
    """``dataset_fn()`` was called a second time; the live stream can be read only once."""


class LiveInput:
    """Hands the channel's records to the script once, and counts them.

    Batches are taken under a lock, so the script's dataset and :meth:`drain` never run the
    channel's reader at the same time (an iterator of the dataset may outlive ``main``).

    Lifetime: one per stream task; :meth:`drain` runs after ``main`` returns.
    """

    def __init__(self, client: ChannelClient, schema: Schema):
        self._batches = client.input_batches()
        self._schema = schema
        self._encoder = ExampleEncoder(schema)
        self._lock = threading.Lock()
        self._claimed = False
        self._ended = False
        self.records_read = 0

    def _next_batch(self) -> list[bytes] | None:
        """The next batch of records, or ``None`` at the end of the input."""
        with self._lock:
            if self._ended:
                return None
            batch = next(self._batches, None)
            if batch is None:
                self._ended = True
                return None
            if isinstance(batch, ColumnBatch):  # rows as columns: the script reads Examples
                batch = self._encoder.encode_many(batch_rows(self._schema, batch))
            self.records_read += len(batch)
            return batch

    def _claim(self) -> None:
        with self._lock:
            if self._claimed:
                raise DatasetReusedError(
                    "dataset_fn() was already called: a stream task's input is single-pass; "
                    "keep the dataset it returned (and .cache() it to read it twice)"
                )
            self._claimed = True

    def dataset(self) -> Any:
        """The ``tf.data.Dataset`` of serialized ``tf.train.Example`` records; callable once."""
        import numpy as np
        import tensorflow as tf

        self._claim()
        started = threading.Event()

        def generate():
            if started.is_set():
                raise DatasetReusedError(
                    "the dataset from dataset_fn() was iterated a second time: the stream is "
                    "single-pass; .cache() it to read it twice"
                )
            started.set()
            while (batch := self._next_batch()) is not None:
                yield np.array(batch, dtype=object)

        signature = tf.TensorSpec(shape=[None], dtype=tf.string)
        return tf.data.Dataset.from_generator(generate, output_signature=signature).unbatch()

    def drain(self) -> int:
        """Read and drop any input ``main`` left unread, so Flink can finish; returns the count.

        A stream task ends when its input ends. A ``main`` that returns early leaves the rest
        of the stream unread, which is logged, since those rows get no output.
        """
        before = self.records_read
        if self._ended:
            return 0
        _log.warning("main returned before the end of its input; reading and dropping the rest")
        while self._next_batch() is not None:
            pass
        dropped = self.records_read - before
        _log.warning("dropped %d input records that main did not read", dropped)
        return dropped
