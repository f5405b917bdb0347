"""Suite-wide fixtures: every test must leave no TF process of this session behind."""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time

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


# After the summary, the interpreter must exit: a thread of PyFlink, Beam or gRPC that never
# ends would keep CI waiting for hours with all tests passed. Past this grace, every thread's
# stack is printed (to find the culprit) and the process exits with the tests' status.
EXIT_GRACE_S = float(os.environ.get("AKDL_TEST_EXIT_GRACE_S", "120"))
_exit_status = {"value": 0}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["value"] = int(exitstatus)


def pytest_unconfigure(config):
    def exit_if_stuck():
        time.sleep(EXIT_GRACE_S)
        sys.__stderr__.write(f"\ntest session: the interpreter had not exited {EXIT_GRACE_S:.0f} s "
                             "after the tests ended; its threads:\n")
        sys.__stderr__.flush()
        faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
        os._exit(_exit_status["value"])

    threading.Thread(target=exit_if_stuck, name="akdl-exit-watchdog", daemon=True).start()
