"""Equal step counts for all-reduce training over uneven shards (pure; runs in the TF process).

Under ``MultiWorkerMirroredStrategy`` every training step is a collective: all workers must take
the same number of steps, or the workers that still have data wait forever in an all-reduce for a
peer that has run out. Batch mode gives each worker its exact shard, so shards are uneven (1000
rows over 3 workers is 334/333/333). The coordinator hands every worker the record count of every
shard, and :func:`common_steps` turns those counts into the one step count all workers can take.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.errors import ParamError

__all__ = ["common_steps"]


def common_steps(
    dataset_lengths: Sequence[int], batch_size: int, drop_remainder: bool = False
) -> int:
    """The number of steps every worker can take in one epoch over its own shard.

    It is the minimum over workers of ``ceil(length / batch_size)``, or of
    ``floor(length / batch_size)`` with ``drop_remainder``; 0 when any worker has no rows. Take
    exactly that many batches on every worker, e.g.::

        steps = common_steps(task_config.worker_dataset_lengths, 64)
        dataset = dataset.batch(64).take(steps)

    which is the fix for ``MultiWorkerMirroredStrategy`` hangs over uneven shards. Workers with
    more rows skip their last few batches; use ``.repeat()`` before ``.batch`` to cycle instead.

    Args:
        dataset_lengths: the exact record count of every worker's shard, in worker order.
        batch_size: the per-worker batch size, at least 1.
        drop_remainder: whether a final partial batch is dropped (as ``Dataset.batch`` does
            with ``drop_remainder=True``).

    Returns:
        The common number of steps per epoch, never negative.

    Raises:
        ParamError: ``batch_size`` is below 1, a length is negative, or there are no workers.
    """
    if batch_size < 1:
        raise ParamError("common_steps", "batch_size", f"must be at least 1, got {batch_size}")
    if not dataset_lengths:
        raise ParamError("common_steps", "dataset_lengths", "must name at least one worker")
    negative = [n for n in dataset_lengths if n < 0]
    if negative:
        raise ParamError(
            "common_steps", "dataset_lengths", f"must not be negative, got {list(dataset_lengths)}"
        )
    if drop_remainder:
        return min(n // batch_size for n in dataset_lengths)
    return min(-(-n // batch_size) for n in dataset_lengths)
