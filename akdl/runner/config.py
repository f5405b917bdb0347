"""Task configs handed to the user's ``main(task_config)`` (runs in the TF process).

Field names follow Alink's ``akdl.runner.config`` so ported scripts keep working. Importing this
module does not import TensorFlow; the dataset helpers import it when they are called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tensorflow as tf

    from akdl.runner.metrics import MetricLogger
    from akdl.runner.output_writer import OutputWriter

__all__ = ["BaseTaskConfig", "BatchTaskConfig", "StreamTaskConfig", "TFContext", "TrainTaskConfig"]


class TFContext:
    """Access to the Flink data from TensorFlow.

    Args:
        dataset_file: the spooled TFRecord file (batch and train tasks), else None.
        dataset_factory: builds the live single-pass dataset (stream tasks), else None.
        properties: free-form task properties (operator name, role, ...).
    """

    def __init__(
        self,
        dataset_file: str | None,
        dataset_factory: Callable[[], tf.data.Dataset] | None,
        properties: dict[str, str],
    ):
        self._dataset_file = dataset_file
        self._dataset_factory = dataset_factory
        self.properties = properties

    def flink_stream_dataset(self) -> tf.data.Dataset:
        """A ``tf.data`` dataset of serialized ``tf.train.Example`` records from Flink."""
        if self._dataset_factory is not None:
            return self._dataset_factory()
        import tensorflow as tf

        return tf.data.TFRecordDataset(self._dataset_file)


@dataclass
class BaseTaskConfig:
    """Fields common to every task kind (see API.md §2)."""

    tf_context: TFContext
    num_workers: int
    cluster: dict[str, list[str]]
    task_type: str
    task_index: int
    work_dir: str
    user_params: dict[str, Any] = field(default_factory=dict)
    metric_logger: MetricLogger | None = field(default=None, repr=False, compare=False)

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Log one value of a metric, e.g. ``log_metric("loss", 0.31, step=epoch)``.

        It reaches the driver (``op.getMetrics()``, ``op.plotMetrics(path)``, an active MLflow
        run) and this subtask's Flink gauges. Without ``step`` the value gets the metric's
        next step: 0, 1, 2, ...

        Raises:
            TypeError: ``value`` is not a real number.
            ValueError: a bad name (letters, digits, ``_ . - /`` and spaces), a value that is
                not finite, or a negative step.
        """
        self._metrics().log_metric(name, value, step)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Log several metrics at one step, e.g. ``log_metrics({"loss": l, "acc": a}, epoch)``."""
        self._metrics().log_metrics(metrics, step)

    def _metrics(self) -> MetricLogger:
        if self.metric_logger is None:  # a config made by hand, e.g. in a unit test
            from akdl.runner.metrics import MetricLogger

            self.metric_logger = MetricLogger(f"{self.task_type}:{self.task_index}")
        return self.metric_logger


@dataclass
class BatchTaskConfig(BaseTaskConfig):
    """Config of a batch script task.

    ``dataset_file`` holds this worker's whole shard as standard TFRecords and may be read many
    times; ``dataset_length`` is its exact record count. ``worker_dataset_lengths`` lists every
    worker's count, chief first.
    """

    dataset_file: str | None = None
    dataset_length: int = 0
    worker_dataset_lengths: list[int] = field(default_factory=list)
    output_writer: OutputWriter | None = None


@dataclass
class StreamTaskConfig(BaseTaskConfig):
    """Config of a stream script task: ``dataset_fn()`` returns the live single-pass dataset."""

    dataset_fn: Callable[[], tf.data.Dataset] | None = None
    output_writer: OutputWriter | None = None


@dataclass
class TrainTaskConfig(BaseTaskConfig):
    """Config of a train task: export a SavedModel into ``saved_model_dir``."""

    dataset_file: str | None = None
    dataset_length: int = 0
    worker_dataset_lengths: list[int] = field(default_factory=list)
    saved_model_dir: str | None = None
