"""One deadline type for every wait in akdl (Flink side and TF process alike)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bridge.errors import DeadlineExceeded

__all__ = ["Deadline"]


class Deadline:
    """A point in time by which something must have happened.

    Args:
        timeout_s: seconds from now; ``None`` means no limit.
        waited_for: what is being waited for, used in the error message.
        setting: the parameter that raises the limit, used in the error message.
        clock: a monotonic clock, injectable so tests need no real sleeps.
    """

    def __init__(
        self,
        timeout_s: float | None,
        waited_for: str,
        setting: str = "",
        clock: Callable[[], float] = time.monotonic,
    ):
        self.timeout_s = timeout_s
        self.waited_for = waited_for
        self.setting = setting
        self._clock = clock
        self._end = None if timeout_s is None else clock() + timeout_s

    def remaining_s(self) -> float | None:
        """Seconds left (never negative), or ``None`` when there is no limit."""
        if self._end is None:
            return None
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self._end is not None and self._clock() >= self._end

    def slice_s(self, step_s: float) -> float:
        """The shorter of ``step_s`` and the time left: for polling loops."""
        left = self.remaining_s()
        return step_s if left is None else min(step_s, left)

    def check(self, missing: str = "") -> None:
        """Raise :class:`DeadlineExceeded` if the deadline has passed."""
        if self.expired():
            raise self.error(missing)

    def error(self, missing: str = "") -> DeadlineExceeded:
        """The error to raise when this deadline is exceeded."""
        return DeadlineExceeded(self.waited_for, self.timeout_s or 0.0, missing, self.setting)
