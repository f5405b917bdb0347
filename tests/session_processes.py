"""The TF processes this test session started, and only those.

Every process a test starts inherits ``AKDL_TEST_SESSION`` from the pytest process (set when
the suite's conftest is imported), TF processes included: a TaskSession hands its own
environment to each child. Leftover checks look only at ``akdl.runner`` processes that carry
this session's value, so a benchmark or a second test run on the same machine is never counted
or killed.
"""

from __future__ import annotations

import os
import time
import uuid

import psutil

SESSION_VAR = "AKDL_TEST_SESSION"
RUNNER_MARK = "akdl.runner"
os.environ.setdefault(SESSION_VAR, uuid.uuid4().hex)
SESSION_ID = os.environ[SESSION_VAR]
# Imported by the suite's conftest, before any job runs (see driver_environ).
SESSION_START_ENVIRON = dict(os.environ)


def _is_ours(proc: psutil.Process) -> bool:
    try:
        if RUNNER_MARK not in (proc.cmdline() or []):
            return False
        return proc.environ().get(SESSION_VAR) == SESSION_ID and proc.status() != "zombie"
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def session_runners() -> list[psutil.Process]:
    """Live ``akdl.runner`` processes started by this test session."""
    return [proc for proc in psutil.process_iter() if _is_ours(proc)]


def reap_leftovers(settle_s: float = 15.0) -> list[str]:
    """Wait up to ``settle_s`` for this session's TF processes to end; kill and name the rest."""
    deadline = time.monotonic() + settle_s
    left = session_runners()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p in left if _is_ours(p)]
    described = []
    for proc in left:
        try:
            described.append(f"{proc.pid}: {' '.join(proc.cmdline())}")
            proc.kill()
        except psutil.NoSuchProcess:
            continue  # it ended in between: not a leftover
    return described


def driver_environ(**extra: str) -> dict[str, str]:
    """The environment for a driver program run as a subprocess of this test session.

    It is this process's environment as the session started, not as it is now: a loopback
    job run here merges its Python worker's whole environment into ``os.environ`` (PyFlink's
    worker pool does ``os.environ.update``). Passed on, ``PYTHON_LOOPBACK_SERVER_ADDRESS``
    makes a cluster's TaskManagers hand their Python workers to this process in loopback mode
    instead of running them (and fails across network namespaces), and
    ``PYFLINK_GATEWAY_DISABLED`` stops a child from starting its own JVM gateway.
    """
    environ = dict(SESSION_START_ENVIRON)
    environ.update(extra)
    return environ
