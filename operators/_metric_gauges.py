"""A TF task's metrics as gauges of its Flink subtask (runs in the Flink Python worker).

Gauges are registered as metric names first arrive and read the latest value, so they show in
Flink's web UI and REST API while a stream runs (PyFlink reports them at the end of each
bundle), under the subtask's ``akdl`` group. See `bridge.metrics` for names and scaling.
"""

from __future__ import annotations

from typing import Any

from bridge.metrics import LatestMetrics, gauge_name, gauge_value

__all__ = ["SubtaskGauges"]


class SubtaskGauges:
    """Mirrors one task's latest metric values into a Flink metric group.

    Args:
        metric_group: the function's metric group (``get_metric_group()``), or ``None`` when
            there is none to publish to.

    Call :meth:`sync` from the function's own thread: PyFlink reads the gauges there.
    """

    def __init__(self, metric_group: Any | None):
        self._group = metric_group.add_group("akdl") if metric_group is not None else None
        self._values: dict[str, int] = {}
        self._version = -1

    def sync(self, latest: LatestMetrics) -> None:
        """Take the latest values, registering a gauge for each new metric."""
        if self._group is None or latest.version == self._version:
            return
        self._version = latest.version
        for point in latest.snapshot().values():
            name = gauge_name(point)
            if name not in self._values:
                self._group.gauge(name, lambda name=name: self._values[name])
            self._values[name] = gauge_value(point)
