"""The TF processes this test session started, and only those.

Every process a test starts inherits ``AKDL_TEST_SESSION`` from the pytest process (set when
the suite's conftest is imported), TF processes included: a TaskSession hands its own
environment to each child. Leftover checks look only at ``akdl.runner`` processes that carry
this session's value, so a benchmark or a second test run on the same machine is never counted
or killed.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import psutil

SESSION_VAR = "AKDL_TEST_SESSION"
RUNNER_MARK = "akdl.runner"
os.environ.setdefault(SESSION_VAR, uuid.uuid4().hex)
SESSION_ID = os.environ[SESSION_VAR]
# Imported by the suite's conftest, before any job runs (see driver_environ).
SESSION_START_ENVIRON = dict(os.environ)


def _carries_marker(proc: psutil.Process, session_id: str = SESSION_ID) -> bool:
    try:
        return proc.environ().get(SESSION_VAR) == session_id and proc.status() != "zombie"
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _is_ours(proc: psutil.Process) -> bool:
    """A TF process (``akdl.runner``) of this session."""
    try:
        if RUNNER_MARK not in (proc.cmdline() or []):
            return False
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return _carries_marker(proc)


def _settle(procs: list[psutil.Process], still_ours, settle_s: float) -> list[psutil.Process]:
    """Wait up to ``settle_s`` for the processes to end; returns those still ``still_ours``."""
    deadline = time.monotonic() + settle_s
    left = [p for p in procs if still_ours(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p in left if still_ours(p)]
    return left


def _name_and_end(procs: list[psutil.Process], end) -> list[str]:
    """``end(proc)`` for each process still alive; returns ``"pid: command"`` for each."""
    described = []
    for proc in procs:
        try:
            command = " ".join(proc.cmdline())
            if len(command) > 300:  # keep the head and the tail, where a JVM names its class
                command = f"{command[:100]} ... {command[-200:]}"
            age = time.time() - proc.create_time()
            described.append(f"{proc.pid}: {command} (started {age:.0f} s before)")
            end(proc)
        except psutil.NoSuchProcess:
            continue  # it ended in between: not a leftover
    return described


def session_runners() -> list[psutil.Process]:
    """Live ``akdl.runner`` processes started by this test session."""
    return [proc for proc in psutil.process_iter() if _is_ours(proc)]


def reap_leftovers(settle_s: float = 15.0) -> list[str]:
    """Wait up to ``settle_s`` for this session's TF processes to end; kill and name the rest."""
    left = _settle(session_runners(), _is_ours, settle_s)
    return _name_and_end(left, psutil.Process.kill)


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


def sweep_session(session_id: str, settle_s: float = 10.0, grace_s: float = 5.0) -> list[str]:
    """End every process, of any kind, that carries the marker ``session_id``; names them.

    For the end of a test run (``scripts/test.sh``), once pytest has exited: a daemon a test
    started and never stopped (a Flink JVM, a coordinator, a TF process) would outlive the run
    and hold its output pipe open. Only processes with that marker value are touched, and
    never this process or the ones that started it. Never call it with a running session's
    own value: its gateway JVM and workers carry that value too.

    Processes get ``settle_s`` to end by themselves (a JVM whose parent just exited is
    usually on its way out); only the ones still alive then are ended and named.
    """
    spared = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    left = _settle([p for p in psutil.process_iter() if p.pid not in spared],
                   lambda p: _carries_marker(p, session_id), settle_s)
    described = _name_and_end(left, psutil.Process.terminate)
    _, alive = psutil.wait_procs(left, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    return described


if __name__ == "__main__":
    # python tests/session_processes.py: the sweep at the end of scripts/test.sh.
    if SESSION_VAR not in os.environ or len(sys.argv) > 1:
        sys.exit(f"usage: {SESSION_VAR}=<the run's value> python {sys.argv[0]}")
    ended = sweep_session(SESSION_ID)
    for line in ended:
        print(f"test run: ended a process it left behind: {line}", file=sys.stderr)
