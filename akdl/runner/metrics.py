"""``task_config.log_metric``: where a task's metrics go (runs in the TF process).

Each value goes two ways: over the task's output channel to its Flink subtask, which shows
the latest one as a gauge of Flink's metric system, and to the stage's coordinator, which keeps
every value for the driver (``op.getMetrics()``, an active MLflow run). Logging never waits for
the coordinator: a sender thread ships what was logged every half second, and :meth:`close`
sends the rest. Every value is also logged as a line of the process's output (shown with
``printProcessInfo``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from bridge.channel_client import OutputStream
from bridge.errors import AkdlError
from bridge.metrics import StepCounter, metric_point
from bridge.protos import channel_pb2

__all__ = ["MetricLogger"]

_SEND_EVERY_S = 0.5
_log = logging.getLogger("akdl.metrics")


class MetricLogger:
    """Checks, numbers and ships one task's metric values.

    Args:
        task: the task's label, for the log lines.
        output: the output channel to the Flink subtask; ``None`` logs the lines only.
        send: sends points to the coordinator (``ClusterMembership.log_metrics``), or ``None``.

    Lifetime: the task; :meth:`close` before the task reports its result.
    """

    def __init__(
        self,
        task: str,
        output: OutputStream | None = None,
        send: Callable[[list[channel_pb2.MetricPoint]], None] | None = None,
    ):
        self._task = task
        self._output = output
        self._send = send
        self._steps = StepCounter()
        self._lock = threading.Lock()
        self._unsent: list[channel_pb2.MetricPoint] = []
        self._closed = threading.Event()
        self._sender: threading.Thread | None = None
        if send is not None:
            self._sender = threading.Thread(target=self._send_loop, name="akdl-metrics",
                                            daemon=True)
            self._sender.start()

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Log one value of ``name`` at ``step`` (the metric's next step when ``None``).

        Raises:
            TypeError: ``value`` is not a real number.
            ValueError: a bad name, a value that is not finite, or a negative step.
        """
        self.log_metrics({name: value}, step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log several values at one step (each metric's next step when ``None``)."""
        if not isinstance(metrics, Mapping):
            raise TypeError(f"log_metrics takes a dict of name -> value, not "
                            f"{type(metrics).__name__}")
        with self._lock:
            points = [
                metric_point(name, value, self._steps.next_step(name) if step is None else step)
                for name, value in metrics.items()
            ]
            for point in points:
                self._steps.advance(point.name, point.step)
            self._unsent.extend(points)
        for point in points:
            _log.info("%s metric %s = %.6g (step %d)", self._task, point.name, point.value,
                      point.step)
        if self._output is not None and points:
            self._output.write_metrics(points)

    def _send_loop(self) -> None:
        while not self._closed.wait(_SEND_EVERY_S):
            self._send_unsent()

    def _send_unsent(self) -> None:
        with self._lock:
            points, self._unsent = self._unsent, []
        if points and self._send is not None:
            try:
                self._send(points)
            except AkdlError as exc:
                # The driver's copy is lost, not the task: the Flink gauges and the log have it.
                _log.warning("%s: %d metric values did not reach the coordinator: %s",
                             self._task, len(points), exc)

    def close(self) -> None:
        """Send what is left to the coordinator and stop the sender."""
        self._closed.set()
        if self._sender is not None:
            self._sender.join()
        self._send_unsent()
