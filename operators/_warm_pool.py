"""TF processes started when a job starts, for its subtasks to adopt (runs in the Flink driver).

A TF process spends seconds importing TensorFlow before its task can run. In local loopback
mode the subtasks are threads of the driver, so the driver can start their processes before
the job's mini-cluster is even up: `JobRunner` fills a `WarmPool` per TF stage when a job
starts (``python -m akdl.runner --warm`` imports TensorFlow and waits on its stdin), and a
`TaskSession` in the same process adopts one instead of spawning. In process mode or on a
cluster, the subtasks run in other processes, no pool is filled, and they spawn as usual.

The registry of pools is per process on purpose: it is how subtask threads of this process find
the pool of their stage (by its id in their plan). Unadopted processes end with the job.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading

from bridge.process import TaskProcess

__all__ = ["WarmPool", "adopt"]

_log = logging.getLogger("akdl.session")
_LOCK = threading.Lock()
_POOLS: dict[str, WarmPool] = {}
_UNUSED_GRACE_S = 2.0


class WarmPool:
    """Warm TF processes for one stage of a running job.

    Args:
        stage_id: the stage's id.
        python_executable: the interpreter its TF processes run (``pythonEnv``).
        count: how many to start (the stage's subtasks).

    Lifetime: the job; :meth:`close` ends the processes nobody adopted.
    """

    def __init__(self, stage_id: str, python_executable: str, count: int):
        self.stage_id = stage_id
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        argv = [python_executable, "-u", "-m", "akdl.runner", "--warm"]
        self._idle = [
            TaskProcess(argv, f"warm:{stage_id}", cwd=tempfile.gettempdir(), env=env,
                        stdin_pipe=True)
            for _ in range(count)
        ]
        with _LOCK:
            _POOLS[stage_id] = self

    def take(self) -> TaskProcess | None:
        """A warm process still running, or ``None``."""
        with _LOCK:
            while self._idle:
                process = self._idle.pop()
                if process.poll() is None:
                    return process
                process.stop(0)
        return None

    def close(self) -> None:
        """End the processes nobody adopted and forget the pool."""
        with _LOCK:
            _POOLS.pop(self.stage_id, None)
            idle, self._idle = self._idle, []
        for process in idle:
            try:
                process.send_line("")  # an empty line: the process exits at once
            except (BrokenPipeError, OSError):
                pass
            process.stop(_UNUSED_GRACE_S)


def adopt(stage_id: str) -> TaskProcess | None:
    """A warm process of the stage, when this process holds a pool for it (loopback mode)."""
    with _LOCK:
        pool = _POOLS.get(stage_id)
    return pool.take() if pool is not None else None
