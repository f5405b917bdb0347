"""The task config of the task this TF process runs, for scripts that get no ``main`` argument.

Runs in the TF process. A script run unmodified as ``__main__`` (``scriptArgs``) is handed no
task config, yet may want to write rows or read the live input; it calls
``akdl.current_task_config()`` and gets the very object ``main(task_config)`` would have got.

This module holds the one piece of process-global state of the runner: the current task's
config. The task kind sets it (`task_config_in_use`) for exactly as long as the user's script
runs; a TF process runs one task, so there is never more than one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["current_task_config", "task_config_in_use"]

_current: Any = None


def current_task_config() -> Any:
    """The config of the task whose script is running in this process.

    The same object ``main(task_config)`` would receive: a ``BatchTaskConfig``,
    ``StreamTaskConfig`` or ``TrainTaskConfig`` of `akdl.runner.config`, with its
    ``output_writer``, ``dataset_fn``, ``dataset_file``, ``saved_model_dir`` and so on.

    Raises:
        RuntimeError: no task script is running in this process (e.g. the script was started
            with plain ``python`` rather than by an akdl operator).
    """
    if _current is None:
        raise RuntimeError(
            "akdl.current_task_config() is only available while a script runs in a TF process "
            "started by an akdl operator (TensorFlowBatchOp, TensorFlowStreamOp, "
            "TFTableModelTrainBatchOp); this process runs none"
        )
    return _current


@contextlib.contextmanager
def task_config_in_use(config: Any) -> Iterator[Any]:
    """Make ``config`` the current task config while the ``with`` block runs.

    Raises:
        RuntimeError: another task config is already current (one task per process).
    """
    global _current
    if _current is not None:
        raise RuntimeError("a task config is already current in this process")
    _current = config
    try:
        yield config
    finally:
        _current = None
