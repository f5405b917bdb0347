"""The coordinator's rules as a plain, thread-safe object (runs wherever the server runs).

See `bridge.coordinator` for the rules themselves. Nothing here touches gRPC, so every rule is
tested with a fake clock and no server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bridge.errors import InvalidTaskError, ParamError
from bridge.task_ref import Role, TaskRef, stage_tasks

__all__ = ["Cluster", "CoordinatorState", "EventKind", "Rendezvous", "RoundEvent"]

_KEPT_ROUNDS = 16


class EventKind(Enum):
    """The outcome of a round, as sent to every task."""

    ABORT = "abort"
    FINISH = "finish"


@dataclass(frozen=True)
class RoundEvent:
    """The outcome of a round: ABORT (with the failed task and its summary) or FINISH.

    An ABORT without a failed task came from outside the tasks, e.g. a cancelled job.
    """

    kind: EventKind
    round: int
    failed_task: TaskRef | None = None
    reason: str = ""


@dataclass(frozen=True)
class Cluster:
    """The whole cluster of a round, identical for every task of it.

    Attributes:
        round: the round this cluster belongs to.
        worker_addresses: ``host:port`` of the workers in subtask order, the chief first.
        ps_addresses: ``host:port`` of ps 0..P-1.
        worker_dataset_lengths: the exact shard size of each worker, in the same order.
    """

    round: int
    worker_addresses: tuple[str, ...]
    ps_addresses: tuple[str, ...]
    worker_dataset_lengths: tuple[int, ...]


@dataclass(frozen=True)
class Rendezvous:
    """A snapshot of a round's rendezvous.

    Attributes:
        round: the round number.
        cluster: the cluster once every task has registered, else ``None``.
        missing: tasks that have not registered yet, in subtask order.
        outcome: the round's ABORT or FINISH, once known.
        waited_s: seconds since the round started (by the state's clock).
    """

    round: int
    cluster: Cluster | None
    missing: tuple[TaskRef, ...]
    outcome: RoundEvent | None
    waited_s: float

    @property
    def complete(self) -> bool:
        """Whether every task has registered."""
        return self.cluster is not None


class _Round:
    """Mutable state of one round; only touched under the state's lock."""

    def __init__(self, number: int, started_at: float):
        self.number = number
        self.started_at = started_at
        self.addresses: dict[TaskRef, str] = {}
        self.lengths: dict[TaskRef, int] = {}
        self.attempts: dict[TaskRef, int] = {}
        self.succeeded: set[TaskRef] = set()
        self.serve_only: set[TaskRef] = set()
        self.outcome: RoundEvent | None = None


class CoordinatorState:
    """The coordinator's rules; see `bridge.coordinator`.

    Rounds are numbered from 1. Methods that take ``round_number`` accept 0 for "the current
    round". Waiting methods block in real time for at most ``timeout_s`` (0 never blocks); the
    injectable ``clock`` only timestamps rounds, so rule tests need no sleeps.

    Args:
        num_workers: number of worker tasks (the chief included), at least 1.
        num_ps: number of parameter-server tasks, at least 0.
        clock: a monotonic clock.

    Raises:
        ParamError: a count is out of range.
    """

    def __init__(self, num_workers: int, num_ps: int, clock: Callable[[], float] = time.monotonic):
        if num_workers < 1:
            raise ParamError("Coordinator", "numWorkers", f"must be at least 1, got {num_workers}")
        if num_ps < 0:
            raise ParamError("Coordinator", "numPSs", f"must not be negative, got {num_ps}")
        self.num_workers = num_workers
        self.num_ps = num_ps
        self._tasks = stage_tasks(num_workers, num_ps)
        self._by_name = {(t.role, t.index): t for t in self._tasks}
        self._clock = clock
        self._cond = threading.Condition()
        self._rounds: dict[int, _Round] = {1: _Round(1, clock())}
        self._current = 1
        self._closed = False
        # The newest attempt seen of each task, across rounds (rule 5).
        self._attempts: dict[TaskRef, int] = {}

    # -- lookups (caller holds the lock) --

    def _task(self, task: TaskRef) -> TaskRef:
        """The stage's own TaskRef for ``task``; raises if it is not part of the stage."""
        known = self._by_name.get((task.role, task.index))
        if known is None:
            raise InvalidTaskError(
                task.label,
                f"is not in this stage ({self.num_workers} workers, {self.num_ps} ps)",
            )
        return known

    def _lookup(self, round_number: int) -> _Round | None:
        """The named round (0: current); ``None`` when it ended long ago and was forgotten."""
        if round_number == 0:
            return self._rounds[self._current]
        if round_number > self._current or round_number < 0:
            raise InvalidTaskError(
                "(any)", f"names round {round_number}, but the latest round is {self._current}"
            )
        return self._rounds.get(round_number)

    def _start_round(self) -> _Round:
        self._current += 1
        fresh = _Round(self._current, self._clock())
        self._rounds[self._current] = fresh
        for old in [n for n in self._rounds if n <= self._current - _KEPT_ROUNDS]:
            del self._rounds[old]
        return fresh

    def _snapshot(self, rnd: _Round) -> Rendezvous:
        missing = tuple(t for t in self._tasks if t not in rnd.addresses)
        cluster = None
        if not missing:
            workers = [t for t in self._tasks if t.is_worker]
            cluster = Cluster(
                round=rnd.number,
                worker_addresses=tuple(rnd.addresses[t] for t in workers),
                ps_addresses=tuple(rnd.addresses[t] for t in self._tasks if not t.is_worker),
                worker_dataset_lengths=tuple(rnd.lengths[t] for t in workers),
            )
        waited_s = max(0.0, self._clock() - rnd.started_at)
        return Rendezvous(rnd.number, cluster, missing, rnd.outcome, waited_s)

    def _forgotten(self, round_number: int) -> Rendezvous:
        reason = f"round {round_number} ended long ago; round {self._current} is running"
        outcome = RoundEvent(EventKind.ABORT, round_number, None, reason)
        return Rendezvous(round_number, None, (), outcome, 0.0)

    def _view(self, round_number: int) -> Rendezvous:
        rnd = self._lookup(round_number)
        return self._forgotten(round_number) if rnd is None else self._snapshot(rnd)

    def _settle(self, rnd: _Round) -> None:
        """Apply the finish rule; caller holds the lock."""
        if rnd.outcome is not None:
            return
        for task in self._tasks:
            if task.is_worker and task not in rnd.succeeded and task not in rnd.serve_only:
                return
        rnd.outcome = RoundEvent(EventKind.FINISH, rnd.number)
        self._cond.notify_all()

    # -- public API --

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        with self._cond:
            return self._closed

    def resolve_round(self, task: TaskRef, round_number: int = 0) -> int:
        """Check that ``task`` belongs to the stage and turn round 0 into the current round.

        Raises:
            InvalidTaskError: the task or round is not part of the stage.
        """
        with self._cond:
            self._task(task)
            self._lookup(round_number)
            return round_number or self._current

    def register(
        self,
        task: TaskRef,
        address: str,
        dataset_length: int = 0,
        round_number: int = 0,
        solo: bool = False,
    ) -> int:
        """Record a task's address and shard size; returns the round it belongs to.

        With ``round_number`` 0 the task joins the current round, or starts a new one when the
        current round has ended. With a round number (a repeated long poll) it stays in that
        round; a round that has ended is left untouched, and its outcome tells the caller.
        A newer attempt of a task in the running round aborts that round first (rule 5),
        unless the task is ``solo`` (needs no cluster, so its peers need not re-form).

        Raises:
            InvalidTaskError: the task or round is not part of the stage, or the attempt is
                stale.
        """
        with self._cond:
            attempt = task.attempt
            task = self._task(task)
            self._check_attempt(task, attempt)
            rnd = self._lookup(round_number)
            if rnd is None:
                return round_number
            restarted = self._restarted(rnd, task, attempt)
            if not solo and round_number == 0 and rnd.outcome is None and restarted:
                rnd.outcome = RoundEvent(
                    EventKind.ABORT, rnd.number, task,
                    f"{task.label} was restarted by Flink (attempt {attempt}); the stage's "
                    "cluster re-forms in a new round",
                )
                self._cond.notify_all()
            self._attempts[task] = attempt
            if round_number == 0 and rnd.outcome is not None:
                rnd = self._start_round()
            if rnd.outcome is not None:
                return rnd.number
            rnd.addresses[task] = address
            rnd.lengths[task] = dataset_length
            rnd.attempts[task] = attempt
            rnd.succeeded.discard(task)
            self._cond.notify_all()
            return rnd.number

    def _check_attempt(self, task: TaskRef, attempt: int) -> None:
        """Reject a call from an attempt older than the newest seen (rule 5)."""
        newest = self._attempts.get(task, attempt)
        if attempt < newest:
            raise InvalidTaskError(
                task.label, f"attempt {attempt} is stale: Flink restarted it as attempt {newest}"
            )

    @staticmethod
    def _restarted(rnd: _Round, task: TaskRef, attempt: int) -> bool:
        """Whether an older attempt of ``task`` is part of the running round ``rnd``."""
        return task in rnd.addresses and rnd.attempts.get(task, 0) < attempt

    def rendezvous(self, round_number: int = 0) -> Rendezvous:
        """A snapshot of the round: cluster (once complete), missing tasks and outcome."""
        with self._cond:
            return self._view(round_number)

    def wait_rendezvous(self, round_number: int, timeout_s: float) -> Rendezvous:
        """Wait up to ``timeout_s`` for the round to complete or end; returns a snapshot."""

        def settled() -> bool:
            rnd = self._lookup(round_number)
            if self._closed or rnd is None or rnd.outcome is not None:
                return True
            return len(rnd.addresses) == len(self._tasks)

        with self._cond:
            self._cond.wait_for(settled, timeout=max(0.0, timeout_s))
            return self._view(round_number)

    def solo_view(self, round_number: int, address: str) -> Rendezvous:
        """The answer to a solo task's ``Register``: the round, complete with just that task.

        A solo task (a predict task) needs no cluster; it registers so that it belongs to the
        round and receives its ABORT.
        """
        with self._cond:
            view = self._view(round_number)
            cluster = Cluster(view.round, (address,), (), (0,))
            return Rendezvous(view.round, cluster, (), view.outcome, view.waited_s)

    def report_done(
        self,
        task: TaskRef,
        success: bool,
        summary: str = "",
        round_number: int = 0,
        serve_only: bool = False,
    ) -> RoundEvent | None:
        """Record that a task's user code returned or raised; returns the round's outcome.

        A failure aborts the round (rule 2); a success may finish it (rule 3). With
        ``serve_only`` the task is also marked serve-only. Reports for an ended round, and from
        a stale attempt (rule 5), are ignored.

        Raises:
            InvalidTaskError: the task is not in the stage, or the chief is marked serve-only.
        """
        with self._cond:
            attempt = task.attempt
            task = self._task(task)
            rnd = self._lookup(round_number)
            if rnd is None or rnd.outcome is not None:
                return None if rnd is None else rnd.outcome
            if attempt < self._attempts.get(task, attempt):
                return None
            if serve_only:
                self._mark_locked(rnd, task)
            if not success:
                reason = summary or f"{task.label} failed without an error message"
                rnd.outcome = RoundEvent(EventKind.ABORT, rnd.number, task, reason)
                self._cond.notify_all()
                return rnd.outcome
            rnd.succeeded.add(task)
            self._settle(rnd)
            return rnd.outcome

    def mark_serve_only(self, task: TaskRef, round_number: int = 0) -> RoundEvent | None:
        """Mark a task as one that only serves; returns the round's outcome (may now be FINISH).

        Raises:
            InvalidTaskError: the task is not in the stage, or it is the chief.
        """
        with self._cond:
            task = self._task(task)
            rnd = self._lookup(round_number)
            if rnd is None or rnd.outcome is not None:
                return None if rnd is None else rnd.outcome
            self._mark_locked(rnd, task)
            self._settle(rnd)
            return rnd.outcome

    def _mark_locked(self, rnd: _Round, task: TaskRef) -> None:
        if task.role is Role.CHIEF:
            raise InvalidTaskError(
                task.label,
                "the chief cannot be serve-only: the job finishes when its main returns",
            )
        rnd.serve_only.add(task)

    def wait_event(self, round_number: int, timeout_s: float) -> RoundEvent | None:
        """Wait up to ``timeout_s`` for the round's outcome; ``None`` on timeout or close."""

        def known() -> bool:
            rnd = self._lookup(round_number)
            return self._closed or rnd is None or rnd.outcome is not None

        with self._cond:
            self._cond.wait_for(known, timeout=max(0.0, timeout_s))
            return self._view(round_number).outcome

    def cancel(self, reason: str) -> RoundEvent | None:
        """Abort the current round for a reason outside the tasks (the job was cancelled).

        Every task of the round receives ABORT without a failed task and ends. Returns the
        abort, or ``None`` when the round had already ended.
        """
        with self._cond:
            rnd = self._lookup(0)
            if rnd is None or rnd.outcome is not None:
                return None
            rnd.outcome = RoundEvent(EventKind.ABORT, rnd.number, None, reason)
            self._cond.notify_all()
            return rnd.outcome

    def close(self) -> None:
        """Wake every waiter; waits then return at once. Used when the server stops."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
