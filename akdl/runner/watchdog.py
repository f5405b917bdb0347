"""Ending the TF process when the Flink process that spawned it dies (runs in the TF process)."""

from __future__ import annotations

import os
import threading
import time

from bridge.process import PARENT_PID_ENV

__all__ = ["PARENT_GONE_EXIT_CODE", "start_parent_watchdog"]

PARENT_GONE_EXIT_CODE = 70


def start_parent_watchdog(poll_s: float = 0.5) -> threading.Thread:
    """Exit at once (code 70) when the parent process goes away, so no TF process is orphaned.

    The parent is the pid the spawner set in ``AKDL_PARENT_PID`` (`bridge.process`), else the
    parent at this call.
    """
    expected = int(os.environ.get(PARENT_PID_ENV) or os.getppid())

    def watch() -> None:
        while True:
            if os.getppid() != expected:
                os._exit(PARENT_GONE_EXIT_CODE)
            time.sleep(poll_s)

    thread = threading.Thread(target=watch, name="akdl-parent-watchdog", daemon=True)
    thread.start()
    return thread
