"""Keeping the last lines a script writes, for its error message (runs in the TF process).

`OutputTail` sits on file descriptors 1 and 2 themselves, so it sees everything the script
prints: ``print``, ``logging``, argparse's usage errors, and TensorFlow's C++ log lines alike.
While it is on, both descriptors write into one pipe, as ``2>&1`` would, so the kept lines are
in the order the script wrote them; every byte is passed on unchanged to the process's original
stdout, where the Flink subtask reads it (it treats stdout and stderr alike). The last lines are
also kept in memory.

Lifetime: one ``with OutputTail() as tail:`` block around the script; `OutputTail.last_lines`
is complete once the block has exited.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
from types import TracebackType

__all__ = ["OutputTail"]

# How long the end of the block waits for the copying thread to pass on what is left; a child
# process of the script that still holds the pipe would otherwise hold the task up.
_DRAIN_S = 2.0
_MAX_LINE_CHARS = 500
# What is kept of a line still without its newline (a progress bar may redraw one for long).
_MAX_PARTIAL_BYTES = 64 * 1024


class OutputTail:
    """Copies fd 1 and fd 2 (merged) through while its block runs, keeping the last lines.

    Args:
        keep_lines: how many of the most recent lines to keep.
    """

    def __init__(self, keep_lines: int = 20):
        self._lines: collections.deque[str] = collections.deque(maxlen=keep_lines)
        self._lock = threading.Lock()
        self._saved: list[tuple[int, int]] = []
        self._thread: threading.Thread | None = None

    def __enter__(self) -> OutputTail:
        _flush_std_streams()
        target = os.dup(1)
        read_end, write_end = os.pipe()
        for fd in (1, 2):
            self._saved.append((fd, os.dup(fd)))
            os.dup2(write_end, fd)
        os.close(write_end)
        self._thread = threading.Thread(target=self._copy, args=(read_end, target), daemon=True,
                                        name="akdl-output-tail")
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _flush_std_streams()
        for fd, original in self._saved:
            os.dup2(original, fd)  # once both are back, the thread sees the pipe's end
            os.close(original)
        if self._thread is not None:
            self._thread.join(_DRAIN_S)

    def last_lines(self) -> str:
        """The most recent lines, joined by newlines."""
        with self._lock:
            return "\n".join(self._lines)

    def _copy(self, read_end: int, target: int) -> None:
        """Pass everything from the pipe on to ``target``, keeping the lines; owns both fds."""
        partial = b""
        try:
            while chunk := os.read(read_end, 65536):
                _write_all(target, chunk)
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()[-_MAX_PARTIAL_BYTES:]
                self._keep(lines)
            self._keep([partial] if partial else [])
        finally:
            os.close(read_end)
            os.close(target)

    def _keep(self, raw_lines: list[bytes]) -> None:
        texts = []
        for raw in raw_lines:
            # A progress bar redraws its line with \r: keep what was drawn last.
            text = raw.decode("utf-8", "replace").rstrip("\r").rsplit("\r", 1)[-1]
            texts.append(text[:_MAX_LINE_CHARS])
        with self._lock:
            self._lines.extend(texts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except OSError:
            return  # nobody reads the output any more: keep collecting lines regardless


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
