"""Typed errors shared by the Flink side and the TF process.

Every error says which task, column or wait it is about, so a failed Flink job names the culprit.
"""

from __future__ import annotations

__all__ = [
    "explain_exit",
    "AkdlError",
    "ChannelClosedError",
    "CoordinatorError",
    "InvalidTaskError",
    "JobAbortedError",
    "PeerFailedError",
    "PredictError",
    "DeadlineExceeded",
    "ParamError",
    "SchemaError",
    "SchemaMismatchError",
    "TaskFailedError",
    "TaskProcessExitedError",
    "TaskTimeoutError",
    "UserScriptError",
]


class AkdlError(Exception):
    """Base class of every error raised by akdl."""


class ParamError(AkdlError, ValueError):
    """An operator parameter is unknown, ill-typed, missing or out of range."""

    def __init__(self, operator: str, param: str, problem: str):
        self.operator = operator
        self.param = param
        self.problem = problem
        super().__init__(f"{operator}: parameter '{param}' {problem}")


class SchemaError(AkdlError, ValueError):
    """A schema string cannot be parsed; the message quotes the offending part."""

    def __init__(self, schema: str, part: str, problem: str):
        self.schema = schema
        self.part = part
        self.problem = problem
        super().__init__(f"bad schema string {schema!r}: {problem}: {part!r}")


class SchemaMismatchError(AkdlError, ValueError):
    """A value or Example feature does not fit the declared column type."""

    def __init__(self, column: str, declared: str, got: str, context: str = ""):
        self.column = column
        self.declared = declared
        self.got = got
        where = f" ({context})" if context else ""
        super().__init__(f"column '{column}' declared {declared}, got {got}{where}")


class DeadlineExceeded(AkdlError, TimeoutError):
    """A wait ran out of time. Says what was awaited and which setting raises the limit."""

    def __init__(self, waited_for: str, timeout_s: float, missing: str = "", setting: str = ""):
        self.waited_for = waited_for
        self.timeout_s = timeout_s
        self.missing = missing
        self.setting = setting
        text = f"timed out after {timeout_s:g}s waiting for {waited_for}"
        if missing:
            text += f"; still missing: {missing}"
        if setting:
            text += f"; raise the limit with {setting}"
        super().__init__(text)


class ChannelClosedError(AkdlError, ConnectionError):
    """The peer of a data channel went away before the exchange was complete."""


class TaskFailedError(AkdlError, RuntimeError):
    """The user's code in a TF process raised; carries the remote traceback."""

    def __init__(
        self,
        task: str,
        exception_type: str,
        message: str,
        traceback: str,
        operator: str = "",
    ):
        self.task = task
        self.exception_type = exception_type
        self.remote_message = message
        self.remote_traceback = traceback
        self.operator = operator
        op = f"{operator} " if operator else ""
        super().__init__(
            f"{op}TF process {task} failed with {exception_type}: {message}\n"
            f"--- traceback from {task} ---\n{traceback.rstrip()}"
        )


def explain_exit(returncode: int | None) -> str:
    """What an exit status means, e.g. ``killed by signal 9 (SIGKILL), possibly ...``.

    A negative code (``subprocess``'s form) or 128 + n (a shell's) names signal n.
    """
    import signal

    if returncode is None:
        return "is still running"
    number = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    if not number:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    text = f"was killed by signal {number} ({name})"
    if number == signal.SIGKILL:
        text += ", possibly killed for memory (OOM): check the host's memory and dmesg"
    if returncode > 0:
        text += f" (exit code {returncode})"
    return text


class TaskProcessExitedError(AkdlError, RuntimeError):
    """A TF process exited (or was killed) without reporting success or an error.

    The message explains the exit status (a signal is named; SIGKILL may mean the process was
    killed for memory) and carries the process's last output lines.
    """

    def __init__(self, task: str, returncode: int | None, last_lines: str = "", operator: str = ""):
        self.task = task
        self.returncode = returncode
        self.last_lines = last_lines
        op = f"{operator} " if operator else ""
        text = f"{op}TF process {task} {explain_exit(returncode)} without reporting a result"
        if last_lines:
            text += f"; its last output lines:\n{last_lines}"
        super().__init__(text)


class TaskTimeoutError(AkdlError, TimeoutError):
    """A task ran longer than ``taskTimeoutS``; carries where its threads were (a stack dump)."""

    def __init__(self, task: str, timeout_s: float, stacks: str):
        self.task = task
        self.timeout_s = timeout_s
        self.stacks = stacks
        super().__init__(
            f"TF task {task} did not finish within taskTimeoutS = {timeout_s:g} s (raise or "
            f"unset taskTimeoutS if it needs longer); where its threads were:\n{stacks.rstrip()}"
        )


class UserScriptError(AkdlError, ValueError):
    """The user's main script is missing, has no usable `main`, or cannot be imported."""


class InvalidTaskError(AkdlError, ValueError):
    """A coordinator call names a task or round that is not part of the job, or breaks a rule."""

    def __init__(self, task: str, problem: str):
        self.task = task
        self.problem = problem
        super().__init__(f"coordinator: task {task}: {problem}")


class PeerFailedError(AkdlError, RuntimeError):
    """The round was aborted because another TF process of the job failed.

    Attributes:
        failed_task: the failed task's label, e.g. ``worker:0`` (see `bridge.task_ref`).
        reason: the failed task's error summary.
        round: the aborted round.
    """

    def __init__(self, failed_task: str, reason: str, round_number: int):
        self.failed_task = failed_task
        self.reason = reason
        self.round = round_number
        super().__init__(f"TF process {failed_task} failed (round {round_number}): {reason}")


class JobAbortedError(AkdlError, RuntimeError):
    """The round was aborted from outside its tasks, e.g. because the job was cancelled."""


class CoordinatorError(AkdlError, RuntimeError):
    """The coordinator rejected a call (wrong token, invalid task) or could not be set up."""

    def __init__(self, call: str, code: str, details: str):
        self.call = call
        self.code = code
        self.details = details
        super().__init__(f"coordinator call {call} failed with {code}: {details}")


class PredictError(AkdlError, ValueError):
    """A SavedModel cannot serve a prediction as configured, or a batch cannot be fed to it.

    Raised for a missing or malformed model path, a signature key, tag, input or output that the
    SavedModel lacks (the message lists what it has), column counts that do not match the
    signature, and values whose type or shape the signature cannot take (the message names the
    column, the signature tensor and what came).
    """
