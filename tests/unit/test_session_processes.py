"""The leftover check touches only this test session's processes."""

import os
import subprocess
import sys
import uuid

import psutil
from session_processes import SESSION_VAR, reap_leftovers, sweep_session

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)", "akdl.runner"]


def test_a_marked_leftover_is_named_and_killed():
    ours = subprocess.Popen(SLEEPER)  # inherits this session's marker
    try:
        left = reap_leftovers(settle_s=0.5)
        assert [line.split(":")[0] for line in left] == [str(ours.pid)]
        assert ours.wait(10) == -9
    finally:
        if ours.poll() is None:
            ours.kill()
            ours.wait()


def test_a_process_of_another_session_is_left_alone():
    env = {k: v for k, v in os.environ.items() if k != SESSION_VAR}
    foreign = subprocess.Popen(SLEEPER, env=env)
    try:
        assert reap_leftovers(settle_s=0.2) == []
        assert foreign.poll() is None
    finally:
        foreign.kill()
        foreign.wait()


def test_the_end_of_run_sweep_ends_only_marked_processes_whatever_their_command():
    # A run of its own: sweeping this session's value would end this session's gateway JVM.
    run = uuid.uuid4().hex
    orphan = subprocess.Popen(["sleep", "120"], env={**os.environ, SESSION_VAR: run})
    foreign = subprocess.Popen(["sleep", "120"])  # this session's marker: not that run's
    try:
        ended = sweep_session(run, settle_s=0.5, grace_s=5)
        assert [line.split(":")[0] for line in ended] == [str(orphan.pid)]
        orphan.wait(10)  # psutil reaped it already: the exit code is gone
        assert not psutil.pid_exists(orphan.pid)
        assert foreign.poll() is None
    finally:
        for proc in (orphan, foreign):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
