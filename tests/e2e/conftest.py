"""Fixtures of the end-to-end tests of the Flink-side framework (real PyFlink mini-clusters)."""

import pytest

from operators import use_local_env


@pytest.fixture(scope="session")
def local_env():
    """A local environment of parallelism 2, created once per test session."""
    use_local_env(2)
    return 2
