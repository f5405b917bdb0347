"""Metrics that tasks log: checking them, keeping them, and turning them into Flink gauges.

Used on both sides. A TF process makes points with :func:`metric_point` (``log_metric``); the
coordinator keeps every task's points in a :class:`MetricLog` for the driver; a Flink subtask
keeps the latest value per name in :class:`LatestMetrics` for its gauges.

PyFlink's gauges carry 64-bit integers (they travel as Beam gauges), so a metric logged as an
integer is published as it is and any other one in millionths, under ``<name>_x1e6``
(:func:`gauge_name`, :func:`gauge_value`).
"""

from __future__ import annotations

import collections
import logging
import math
import numbers
import re
import threading
import time
from dataclasses import dataclass

from bridge.protos import channel_pb2

__all__ = [
    "BUILT_IN_METRICS",
    "MAX_KEPT_METRICS",
    "LatestMetrics",
    "MetricLog",
    "MetricRecord",
    "StepCounter",
    "gauge_name",
    "gauge_value",
    "metric_point",
]

#: Logged for every task when it ends: rows read, rows written, seconds from the start of the
#: TF process to ``main``, and seconds in ``main`` (for predict tasks: predicting).
BUILT_IN_METRICS = ("rows_in", "rows_out", "seconds_to_main", "seconds_in_main")

#: How many metric values a stage's coordinator keeps for the driver.
MAX_KEPT_METRICS = 200_000

_log = logging.getLogger("akdl.metrics")
_NAME = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,250}$")
_GAUGE_SCALE = 1_000_000


def metric_point(name: str, value: object, step: int, now: float | None = None
                 ) -> channel_pb2.MetricPoint:
    """A checked metric point.

    Args:
        name: letters, digits, ``_ . - /`` and spaces, at most 250 characters (what MLflow
            accepts as a metric key).
        value: a finite real number (an int, a float, a numpy scalar or a 0-d tensor's
            ``numpy()``).
        step: the step, >= 0.
        now: the time to record; the current time when ``None``.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: the name is not allowed, the value is not finite, or the step is negative.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"metric name {name!r} is not allowed: use 1 to 250 letters, digits, '_', '.', "
            "'-', '/' or spaces"
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        item = getattr(value, "item", None)  # numpy scalars and 0-d arrays
        if item is None:
            raise TypeError(f"metric {name!r}: the value must be a real number, not "
                            f"{type(value).__name__} ({value!r})")
        value = item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"metric {name!r}: the value must be a real number, not "
                            f"{type(value).__name__} ({value!r})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric {name!r}: the value must be finite, not {number}")
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"metric {name!r}: the step must be an integer >= 0, not {step!r}")
    return channel_pb2.MetricPoint(
        name=name, value=number, step=int(step), time=time.time() if now is None else now,
        integral=isinstance(value, numbers.Integral),
    )


class StepCounter:
    """Numbers the values of each metric logged without a step: 0, 1, 2, ..."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def next_step(self, name: str) -> int:
        """The step of the next value of ``name`` logged without one."""
        return self._next.get(name, 0)

    def advance(self, name: str, step: int) -> None:
        """Record that ``name`` was logged at ``step``: later values without one follow it."""
        self._next[name] = max(self._next.get(name, 0), step + 1)


def gauge_name(point: channel_pb2.MetricPoint) -> str:
    """The Flink gauge of a metric: its name, with ``_x1e6`` when the value is scaled."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", point.name)
    return name if point.integral else f"{name}_x1e6"


def gauge_value(point: channel_pb2.MetricPoint) -> int:
    """The integer a Flink gauge shows for the point (see the module docstring)."""
    return round(point.value) if point.integral else round(point.value * _GAUGE_SCALE)


@dataclass(frozen=True)
class MetricRecord:
    """One logged value, as the driver keeps it.

    Attributes:
        task: the task's label, e.g. ``chief:0``.
        name: the metric.
        step: its step.
        value: its value.
        time: seconds since the epoch.
        round: the coordinator round it was logged in (a Flink restart starts a new one).
    """

    task: str
    name: str
    step: int
    value: float
    time: float
    round: int


class MetricLog:
    """The metric values the tasks of one stage logged; thread-safe (the coordinator's).

    Args:
        max_records: how many values it keeps; past that (a stream logging for days), the
            oldest go, with a warning when it first happens.
    """

    def __init__(self, max_records: int = MAX_KEPT_METRICS) -> None:
        self._lock = threading.Lock()
        self._records: collections.deque[MetricRecord] = collections.deque(maxlen=max_records)
        self.dropped = 0

    def add(self, task: str, round_number: int, points: list[channel_pb2.MetricPoint]) -> None:
        """Keep the points one task logged in a round."""
        records = [MetricRecord(task, p.name, p.step, p.value, p.time, round_number)
                   for p in points]
        with self._lock:
            overflow = len(self._records) + len(records) - self._records.maxlen
            if overflow > 0:
                if not self.dropped:
                    _log.warning("more than %d metric values were logged; the oldest are "
                                 "dropped from the driver's copy", self._records.maxlen)
                self.dropped += min(overflow, len(records) + len(self._records))
            self._records.extend(records)

    def records(self) -> list[MetricRecord]:
        """The values of the latest round that logged any (a restarted stage's last run)."""
        with self._lock:
            if not self._records:
                return []
            latest = max(r.round for r in self._records)
            return [r for r in self._records if r.round == latest]


class LatestMetrics:
    """The latest point of each metric one task logged; thread-safe (a Flink subtask's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, channel_pb2.MetricPoint] = {}
        self.version = 0

    def update(self, points: list[channel_pb2.MetricPoint]) -> None:
        """Take newer points (called by the channel's receiving thread)."""
        with self._lock:
            for point in points:
                self._latest[point.name] = point
            self.version += 1

    def snapshot(self) -> dict[str, channel_pb2.MetricPoint]:
        """The latest point per metric name."""
        with self._lock:
            return dict(self._latest)
