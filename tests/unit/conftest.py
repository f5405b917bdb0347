"""Fixtures of the unit tests: fakes for pure logic."""

import pytest


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()
