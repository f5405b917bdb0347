"""Suite-wide fixtures: every test must leave no TF process of this session behind."""

from __future__ import annotations

import pytest
from session_processes import reap_leftovers


@pytest.fixture(autouse=True)
def no_leftover_tf_processes():
    """Fails the test if a TF process this session started is still alive after it."""
    yield
    left = reap_leftovers()
    if left:
        pytest.fail(f"TF processes left behind (now killed): {left}")
