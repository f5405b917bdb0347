"""Fixtures of the end-to-end tests of the Flink-side framework (real PyFlink mini-clusters)."""

import os
import textwrap

import pytest

from operators import use_local_env


@pytest.fixture(scope="session")
def local_env():
    """A local environment of parallelism 2, created once per test session."""
    use_local_env(2)
    return 2


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def write_script(tmp_path):
    """Writes a dedented user script into the test's tmp dir; returns its path."""

    def write(name: str, body: str) -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body))
        return str(path)

    return write


@pytest.fixture(scope="session")
def repo_root() -> str:
    """The repository root (for examples/)."""
    return REPO
