"""TaskProcess: prefixed output, SIGTERM then SIGKILL, and no surviving process group members."""

import io
import os
import signal
import sys
import textwrap
import time

import psutil
import pytest

from bridge.process import TaskProcess

LABEL = "chief:0"


@pytest.fixture
def spawn(tmp_path):
    """Starts ``python -c <code>`` as a TaskProcess; stops every one at teardown."""
    started = []

    def start(code, **kwargs):
        argv = [sys.executable, "-u", "-c", textwrap.dedent(code)]
        proc = TaskProcess(argv, LABEL, cwd=str(tmp_path), env=os.environ, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(grace_s=0.5)


def wait_for_line(proc, text, timeout_s=10.0):
    """The first output line containing ``text``; fails after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        for line in proc.last_lines().splitlines():
            if text in line:
                return line
        time.sleep(0.02)
    pytest.fail(f"no line with {text!r} within {timeout_s}s; got:\n{proc.last_lines()}")


def is_gone(pid, timeout_s=5.0):
    """Whether ``pid`` has stopped running (a zombie awaiting its reaper counts as gone)."""
    end = time.monotonic() + timeout_s
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


def test_output_lines_are_prefixed_and_kept(spawn):
    proc = spawn("""
        import sys
        print("hello")
        print("to stderr", file=sys.stderr)
        print("bye")
    """)
    assert proc.wait(10) == 0
    lines = proc.last_lines().splitlines()
    assert sorted(lines) == ["[chief:0] bye", "[chief:0] hello", "[chief:0] to stderr"]
    assert lines.index("[chief:0] hello") < lines.index("[chief:0] bye")


def test_only_the_last_lines_are_kept(spawn):
    proc = spawn("for i in range(100): print(i)", keep_lines=5)
    assert proc.wait(10) == 0
    assert proc.last_lines() == "\n".join(f"[chief:0] {i}" for i in range(95, 100))


def test_stop_terminates_a_running_process_within_grace(spawn):
    proc = spawn("""
        import time
        print("ready")
        time.sleep(60)
    """)
    wait_for_line(proc, "ready")
    start = time.monotonic()
    code = proc.stop(grace_s=5.0)
    assert time.monotonic() - start < 4.0
    assert code == -signal.SIGTERM
    assert proc.poll() == -signal.SIGTERM
    assert is_gone(proc.pid)


def test_stop_kills_a_process_that_ignores_sigterm_after_grace(spawn):
    proc = spawn("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring SIGTERM")
        time.sleep(60)
    """)
    wait_for_line(proc, "ignoring SIGTERM")
    start = time.monotonic()
    code = proc.stop(grace_s=0.5)
    elapsed = time.monotonic() - start
    assert code == -9
    assert 0.45 <= elapsed < 4.0
    assert is_gone(proc.pid)


def test_stop_also_ends_a_grandchild(spawn):
    proc = spawn("""
        import subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        print("grandchild", child.pid)
        time.sleep(60)
    """)
    grandchild = int(wait_for_line(proc, "grandchild").split()[-1])
    assert psutil.pid_exists(grandchild)
    proc.stop(grace_s=0.5)
    assert is_gone(proc.pid)
    assert is_gone(grandchild)


def test_stop_kills_a_grandchild_that_ignores_sigterm(spawn):
    proc = spawn("""
        import subprocess, sys, time
        code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('grandchild ready', flush=True); time.sleep(60)")
        child = subprocess.Popen([sys.executable, "-c", code])
        print("grandchild pid", child.pid)
        time.sleep(60)
    """)
    grandchild = int(wait_for_line(proc, "grandchild pid").split()[-1])
    wait_for_line(proc, "grandchild ready")
    try:
        proc.stop(grace_s=0.5)
        assert is_gone(proc.pid)
        assert is_gone(grandchild, timeout_s=1.0), "a grandchild survived stop()"
    finally:
        if not is_gone(grandchild, timeout_s=0):
            os.kill(grandchild, signal.SIGKILL)  # our own grandchild: do not leak it


def test_stop_ends_a_grandchild_left_behind_by_an_exited_leader(spawn):
    proc = spawn("""
        import subprocess
        child = subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        print("grandchild", child.pid)
    """)
    grandchild = int(wait_for_line(proc, "grandchild").split()[-1])
    assert proc.wait(10) == 0
    assert not is_gone(grandchild, timeout_s=0.2)  # orphaned but still running
    assert proc.stop(grace_s=0.5) == 0
    assert is_gone(grandchild)


def test_stop_is_idempotent(spawn):
    proc = spawn("import time; time.sleep(60)")
    first = proc.stop(grace_s=0.5)
    start = time.monotonic()
    assert proc.stop(grace_s=0.5) == first == -signal.SIGTERM
    assert time.monotonic() - start < 0.5


def test_echo_prints_prefixed_lines_to_the_given_stream(spawn):
    sink = io.StringIO()
    proc = spawn("print('hi there')", echo=True, echo_to=sink)
    assert proc.wait(10) == 0
    proc.stop(grace_s=0.5)
    lines = sink.getvalue().splitlines()
    assert lines[0].startswith(f"[chief:0] started pid {proc.pid}: ")
    assert "[chief:0] hi there" in lines
    assert lines[-1] == "[chief:0] exited with code 0"


def test_without_echo_nothing_is_printed(spawn, capsys):
    proc = spawn("print('quiet')")
    assert proc.wait(10) == 0
    proc.stop(grace_s=0.5)
    assert capsys.readouterr().out == ""
    assert proc.last_lines() == "[chief:0] quiet"
