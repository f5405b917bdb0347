"""Suite-wide fixtures: every test must leave no TF process of this session behind."""

from __future__ import annotations

import os

import pytest
from session_processes import reap_leftovers


@pytest.fixture(autouse=True)
def no_leftover_tf_processes():
    """Fails the test if a TF process this session started is still alive after it."""
    yield
    left = reap_leftovers()
    if left:
        pytest.fail(f"TF processes left behind (now killed): {left}")


CLUSTER_ENV = "AKDL_CLUSTER_TESTS"


def pytest_addoption(parser):
    parser.addoption("--cluster", action="store_true",
                     help="also run the tests marked cluster (a real standalone Flink cluster)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--cluster") or os.environ.get(CLUSTER_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"a real cluster: pass --cluster or set {CLUSTER_ENV}=1")
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)
