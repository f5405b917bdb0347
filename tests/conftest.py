"""Suite-wide fixtures: every test must leave no TF process of ours behind."""

from __future__ import annotations

import time

import psutil
import pytest

_RUNNER_MARK = "akdl.runner"
_SETTLE_S = 15.0


def _runner_processes(exclude: set[int]) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info["pid"] not in exclude and _RUNNER_MARK in cmdline:
            found.append(proc)
    return found


@pytest.fixture(scope="session")
def _preexisting_runners() -> set[int]:
    return {p.pid for p in _runner_processes(set())}


@pytest.fixture(autouse=True)
def no_leftover_tf_processes(_preexisting_runners):
    """Fails the test if a TF process it started is still alive after it (beyond a grace)."""
    yield
    deadline = time.monotonic() + _SETTLE_S
    left = _runner_processes(_preexisting_runners)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    if left:
        described = [f"{p.pid}: {' '.join(p.cmdline())}" for p in left]
        for p in left:
            p.kill()
        pytest.fail(f"TF processes left behind: {described}")
