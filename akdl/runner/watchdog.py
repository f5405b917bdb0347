"""Ending the TF process when the Flink process that spawned it dies (runs in the TF process)."""

from __future__ import annotations

import os
import threading
import time

__all__ = ["start_parent_watchdog"]

PARENT_GONE_EXIT_CODE = 70


def start_parent_watchdog(poll_s: float = 0.5) -> threading.Thread:
    """Exit at once (code 70) when the parent process goes away, so no TF process is orphaned."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(PARENT_GONE_EXIT_CODE)

    thread = threading.Thread(target=watch, name="akdl-parent-watchdog", daemon=True)
    thread.start()
    return thread
