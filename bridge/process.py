"""Spawning and stopping TF processes (runs on the Flink side).

Each TF process runs in its own process group (its own session), so stopping it also stops any
children it started. Its stdout and stderr are read line by line, prefixed with the task label
(``[chief:0]``), logged, echoed when asked, and the last lines are kept for error messages.
Only our own process groups are ever signalled.

Lifetime: one :class:`TaskProcess` per spawned process; call :meth:`TaskProcess.stop` on every
exit path (it is idempotent).
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TextIO

__all__ = ["DEFAULT_GRACE_S", "PARENT_PID_ENV", "TaskProcess", "pid_exists"]

DEFAULT_GRACE_S = 5.0
# The spawning process's pid, set in every child's environment: the child's parent watchdog
# (akdl.runner.watchdog) compares it with getppid(), so a parent that died before the watchdog
# started is noticed too.
PARENT_PID_ENV = "AKDL_PARENT_PID"
_log = logging.getLogger("akdl.process")


def pid_exists(pid: int) -> bool:
    """Whether a process (not a zombie) with this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class TaskProcess:
    """A spawned TF process with captured, prefixed output.

    Args:
        argv: the command line.
        label: prefix for each output line, e.g. ``chief:0``.
        cwd: working directory.
        env: full environment of the child.
        echo: also print each prefixed line to ``echo_to`` (default ``sys.stdout``).
        keep_lines: how many recent lines to keep for error messages.
        stdin_pipe: give the child a pipe as stdin, for `send_line` (a warm process waits for
            its task there); otherwise stdin is ``/dev/null``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        label: str,
        cwd: str,
        env: Mapping[str, str],
        echo: bool = False,
        echo_to: TextIO | None = None,
        keep_lines: int = 40,
        stdin_pipe: bool = False,
    ):
        self.label = label
        self._echo = echo
        self._echo_to = echo_to
        self._recent: collections.deque[str] = collections.deque(maxlen=keep_lines)
        self._lock = threading.Lock()
        self._stopped = False
        self._popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**env, PARENT_PID_ENV: str(os.getpid())},
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = self._popen.pid
        self._readers = [
            threading.Thread(target=self._pump, args=(stream,), daemon=True,
                             name=f"akdl-{label}-{name}")
            for name, stream in (("out", self._popen.stdout), ("err", self._popen.stderr))
        ]
        for reader in self._readers:
            reader.start()
        if echo:
            self._emit(f"started pid {self.pid}: {' '.join(argv)}")

    def _pump(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self._emit(raw.decode("utf-8", errors="replace").rstrip("\n"))
        stream.close()

    def _emit(self, line: str) -> None:
        text = f"[{self.label}] {line}"
        with self._lock:
            self._recent.append(text)
        _log.info(text)
        if self._echo:
            print(text, file=self._echo_to or sys.stdout, flush=True)

    def adopt(self, label: str, echo: bool) -> None:
        """Give a warm process its task's label and echo setting (from now on)."""
        self.label = label
        self._echo = echo

    def send_line(self, text: str) -> None:
        """Write one line to the child's stdin pipe and close it.

        Raises:
            BrokenPipeError: the child has exited.
        """
        assert self._popen.stdin is not None, "the process was started without a stdin pipe"
        self._popen.stdin.write(text.encode("utf-8") + b"\n")
        self._popen.stdin.close()

    def poll(self) -> int | None:
        """The exit code, or None while running."""
        return self._popen.poll()

    def last_lines(self) -> str:
        """The most recent output lines, joined; waits briefly for the readers to catch up."""
        if self._popen.poll() is not None:
            for reader in self._readers:
                reader.join(timeout=1.0)
        with self._lock:
            return "\n".join(self._recent)

    def wait(self, timeout_s: float) -> int | None:
        """Wait up to ``timeout_s`` for exit; returns the exit code or None."""
        try:
            return self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_s: float = DEFAULT_GRACE_S) -> int | None:
        """Terminate the process group: SIGTERM, ``grace_s`` to exit, then SIGKILL."""
        with self._lock:
            if self._stopped:
                return self._popen.poll()
            self._stopped = True
        if self._popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            if self.wait(grace_s) is None:
                self._signal_group(signal.SIGKILL)
                self.wait(grace_s)
        # The leader is gone; whatever it started and left in its group goes too, even a
        # grandchild that ignored SIGTERM.
        self._signal_group(signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=1.0)
        if self._echo:
            self._emit(f"exited with code {self._popen.returncode}")
        return self._popen.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.pid, sig)  # the group id equals our child's pid (new session)
        except ProcessLookupError:
            pass
