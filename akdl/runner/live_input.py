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
from collections.abc import Iterator
from typing import Any

from bridge.channel_client import ChannelClient
from bridge.errors import AkdlError

__all__ = ["DatasetReusedError", "LiveInput"]

_log = logging.getLogger("akdl.runner")


class DatasetReusedError(AkdlError):
    """``dataset_fn()`` was called a second time; the live stream can be read only once."""


class LiveInput:
    """Hands the channel's records to the script once, and counts them.

    Lifetime: one per stream task; :meth:`drain` runs after ``main`` returns.
    """

    def __init__(self, client: ChannelClient):
        self._client = client
        self._batches: Iterator[list[bytes]] | None = None
        self._lock = threading.Lock()
        self._ended = False
        self.records_read = 0

    def _next_batches(self) -> Iterator[list[bytes]]:
        for batch in self._client.record_batches():
            self.records_read += len(batch)
            yield batch
        self._ended = True

    def _claim(self) -> Iterator[list[bytes]]:
        with self._lock:
            if self._batches is not None:
                raise DatasetReusedError(
                    "dataset_fn() was already called: a stream task's input is single-pass; "
                    "keep the dataset it returned (or use .cache()/.repeat() on it)"
                )
            self._batches = self._next_batches()
            return self._batches

    def dataset(self) -> Any:
        """The ``tf.data.Dataset`` of serialized ``tf.train.Example`` records; callable once."""
        import numpy as np
        import tensorflow as tf

        batches = self._claim()

        def generate():
            for batch in batches:
                yield np.array(batch, dtype=object)

        signature = tf.TensorSpec(shape=[None], dtype=tf.string)
        return tf.data.Dataset.from_generator(generate, output_signature=signature).unbatch()

    def drain(self) -> int:
        """Read and drop any input ``main`` left unread, so Flink can finish; returns the count.

        A stream task ends when its input ends. A ``main`` that returns early leaves the rest
        of the stream unread, which is logged, since those rows get no output.
        """
        batches = self._batches if self._batches is not None else self._claim()
        if self._ended:
            return 0
        before = self.records_read
        _log.warning("main returned before the end of its input; reading and dropping the rest")
        for _ in batches:
            pass
        dropped = self.records_read - before
        _log.warning("dropped %d input records that main did not read", dropped)
        return dropped
