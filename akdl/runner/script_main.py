"""Running an unmodified argparse script as ``__main__`` (runs in the TF process).

With ``scriptArgs`` set, the main script is never searched for ``main(task_config)``: it runs
as ``python <work dir>/<script> <args>`` would run it, in this process: ``sys.argv`` is the
script's path and the arguments, their placeholders filled with this task's values
(`bridge.script_args`). ``TF_CONFIG`` is already exported by the runner.

``sys.exit(0)``, ``sys.exit()`` or running off the end succeed; any other exit fails the task
with a `ScriptExitError` that carries the script's last output lines.
"""

from __future__ import annotations

import logging
import runpy
import sys
from collections.abc import Sequence
from typing import Any

from akdl.runner.output_tail import OutputTail
from akdl.runner.user_script import find_script
from bridge.errors import AkdlError
from bridge.script_args import fill_script_args, offered_placeholders

__all__ = ["ScriptExitError", "placeholder_values", "run_script_as_main"]

_log = logging.getLogger("akdl.runner")


class ScriptExitError(AkdlError, RuntimeError):
    """A script run as ``__main__`` exited with a non-zero code.

    Attributes:
        script: the main script's name.
        task: the task that ran it, e.g. ``worker:0 (subtask 1)``.
        code: the exit code (1 for ``sys.exit("message")``, as Python's own).
        last_lines: the script's last output lines.
    """

    def __init__(self, script: str, task: str, exit_arg: Any, last_lines: str):
        self.script = script
        self.task = task
        self.code = int(exit_arg) if isinstance(exit_arg, int) else 1
        self.last_lines = last_lines
        said = "" if isinstance(exit_arg, int) else f" (sys.exit({exit_arg!r}))"
        tail = (f"; its last output lines:\n{last_lines}" if last_lines.strip()
                else "; it wrote no output")
        super().__init__(
            f"{script} (task {task}): script exited with code {self.code}{said}{tail}"
        )


def placeholder_values(config: Any, kind: int) -> dict[str, Any]:
    """The value of each placeholder a task of ``kind`` offers, read from its task config."""
    return {name: getattr(config, name) for name in offered_placeholders(kind)}


def run_script_as_main(
    script: str, work_dir: str, args: Sequence[str], config: Any, kind: int, task: str
) -> None:
    """Run ``script`` from ``work_dir`` as ``__main__``, ``sys.argv = [its path, *args]``.

    Args:
        script: the main script's name in the work dir.
        work_dir: the task's work dir (the current directory, and on ``sys.path``).
        args: the arguments, placeholders unfilled.
        config: the task config whose fields fill the placeholders.
        kind: the task's ``task_spec_pb2.TaskKind``.
        task: the task, for the error message.

    Raises:
        UserScriptError: the script is not in the work dir.
        ScriptExitError: the script exited with a non-zero code.
        Exception: whatever else the script raised, unchanged.
    """
    path = find_script(script, work_dir)
    # runpy puts the script's path into sys.argv[0], as `python path args` would.
    argv = [path, *fill_script_args(args, placeholder_values(config, kind))]
    _log.info("running %s as __main__ with sys.argv = %s", script, argv)
    exited: SystemExit | None = None
    saved_argv = sys.argv
    sys.argv = argv
    try:
        with OutputTail() as tail:
            try:
                runpy.run_path(path, run_name="__main__")
            except SystemExit as exc:
                exited = exc
    finally:
        sys.argv = saved_argv
    if exited is not None and exited.code not in (None, 0):
        raise ScriptExitError(script, task, exited.code, tail.last_lines()) from exited
