"""One name for a task of a TF stage (both processes).

A stage of ``W`` workers and ``P`` parameter servers runs on ``W + P`` Flink subtasks. Subtask 0
is the TF ``chief``, subtasks 1..W-1 are ``worker`` 0..W-2, and the rest are ``ps`` 0..P-1
(Alink's layout). `TaskRef` carries both numberings; its `label` (``worker:0``) is the one name
used in log prefixes, error fields and coordinator keys, and `describe` adds the Flink subtask
where a message must mention it (``worker:0 (subtask 1)``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from bridge.protos import channel_pb2

__all__ = ["Role", "TaskRef", "stage_tasks"]


class Role(enum.Enum):
    """A task's role, named as in TF_CONFIG."""

    CHIEF = "chief"
    WORKER = "worker"
    PS = "ps"


_TO_PROTO = {
    Role.CHIEF: channel_pb2.CHIEF, Role.WORKER: channel_pb2.WORKER, Role.PS: channel_pb2.PS
}
_FROM_PROTO = {v: k for k, v in _TO_PROTO.items()}


@dataclass(frozen=True)
class TaskRef:
    """A task of a TF stage: its TF role and index, and the Flink subtask that runs it.

    Attributes:
        role: chief, worker or ps.
        index: the index within the role, as in TF_CONFIG.
        subtask: the Flink subtask index.
        attempt: Flink's attempt number of that subtask (0 first). Not part of the task's
            identity: two attempts of one task compare equal.
    """

    role: Role
    index: int
    subtask: int
    attempt: int = field(default=0, compare=False)

    @classmethod
    def of_subtask(cls, subtask: int, num_workers: int, attempt: int = 0) -> TaskRef:
        """The task that Flink subtask ``subtask`` runs in a stage of ``num_workers`` workers."""
        if subtask < 0:
            raise ValueError(f"a subtask index cannot be negative, got {subtask}")
        if subtask == 0:
            return cls(Role.CHIEF, 0, 0, attempt)
        if subtask < num_workers:
            return cls(Role.WORKER, subtask - 1, subtask, attempt)
        return cls(Role.PS, subtask - num_workers, subtask, attempt)

    def with_attempt(self, attempt: int) -> TaskRef:
        """The same task at another attempt."""
        return replace(self, attempt=attempt)

    @classmethod
    def from_proto(cls, message: channel_pb2.TaskId) -> TaskRef:
        """The task a wire ``TaskId`` names.

        Raises:
            ValueError: the message has no role.
        """
        role = _FROM_PROTO.get(message.role)
        if role is None:
            raise ValueError(f"task id without a role: {message}")
        return cls(role, message.index, message.subtask, message.attempt)

    def to_proto(self) -> channel_pb2.TaskId:
        """The wire ``TaskId`` of this task."""
        return channel_pb2.TaskId(role=_TO_PROTO[self.role], index=self.index,
                                  subtask=self.subtask, attempt=self.attempt)

    @property
    def label(self) -> str:
        """The canonical name, e.g. ``chief:0``, ``worker:1`` or ``ps:0``."""
        return f"{self.role.value}:{self.index}"

    @property
    def is_worker(self) -> bool:
        """Whether the task runs user code on data: the chief or a worker (not a ps)."""
        return self.role is not Role.PS

    def describe(self) -> str:
        """The label with the Flink subtask, e.g. ``worker:0 (subtask 1)``.

        A restarted task also names its attempt: ``worker:0 (subtask 1, attempt 2)``.
        """
        attempt = f", attempt {self.attempt}" if self.attempt else ""
        return f"{self.label} (subtask {self.subtask}{attempt})"

    def __str__(self) -> str:
        return self.label


def stage_tasks(num_workers: int, num_ps: int) -> list[TaskRef]:
    """Every task of a stage, in subtask order: the chief, the workers, then the ps."""
    return [TaskRef.of_subtask(i, num_workers) for i in range(num_workers + num_ps)]
