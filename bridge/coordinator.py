"""The job coordinator: rendezvous of the TF processes, done reports, abort and finish fan-out.

Processes:
    * :class:`CoordinatorServer` (gRPC) and :class:`CoordinatorState` (the rules, plain and
      thread-safe) run in the Flink driver, one per job, started when the job graph is built; or
      standalone, ``python -m bridge.coordinator --workers W --ps P``, for detached submission.
    * :class:`CoordinatorClient` runs in every TF process (the ``akdl`` runner). It never imports
      TensorFlow.

Rules (``CoordinatorState`` enforces them; the servicer only translates messages):
    1. **Rendezvous.** Every task registers ``(role, index, host:port, dataset_length)``. Once all
       ``num_workers + num_ps`` tasks of the round have registered, each of them receives the same
       cluster: worker and ps addresses in index order (Flink-side numbering, worker 0 is the
       chief) and the shard size of every worker. ``Register`` is a long poll: the server holds it
       for a short slice (at most 2 s, less when the call's deadline is nearer), and the client
       calls again until its own rendezvous deadline, whose error names the tasks that never
       registered and the ``rendezvousTimeoutS`` parameter.
    2. **Abort.** As soon as any task reports failure, the round is aborted and every task is sent
       ABORT carrying the failed task and its error summary, so peers blocked in a collective are
       ended by their runner instead of hanging. Tasks still waiting in the rendezvous get the
       abort as the answer to ``Register``. Only the first failure counts.
    3. **Finish.** FINISH is sent when the chief (worker 0) has reported success AND every worker
       not marked serve-only has reported success. PS are always serve-only. A task is serve-only
       when it will only ``server.join()`` (a ps, or a non-chief worker under TF2
       ``ParameterServerStrategy``): its runner ends it when FINISH arrives. A worker still running
       user code that is not serve-only is never told to stop by FINISH, since FINISH waits for
       it; it must return on its own. The chief cannot be serve-only (the job would never end).
    4. **Rounds.** A driver may execute one job graph more than once (``print()`` then
       ``collect()``). Each execution is a round with its own number. Once a round has finished or
       aborted, the next ``Register`` that does not name a round starts a new round with all
       state reset. Calls name the round they belong to (the client echoes the round it was
       told), so a late call for an ended round never leaks into the next one. A ``Register`` for
       a task already registered in a running round (a restarted process) replaces its address.
       A task of an aborted round that registers only after the abort starts the next round; it
       then fails at its rendezvous deadline unless Flink restarts the whole job (it normally
       cancels it).
    5. After a round has ended, further done reports for it are ignored: the ps that the runner
       ends after FINISH may report anything, and later failures do not replace the first one.

Security: every call must carry the job token in the ``akdl-token`` metadata; other calls are
rejected with UNAUTHENTICATED. The server binds loopback by default. A standalone Flink cluster
whose TaskManagers run on other hosts needs ``host="0.0.0.0"`` plus an ``advertised_host`` that
those hosts can resolve (the default for a wildcard bind is this host's name).

Lifetime: one server per job (it serves every round of that job), closed by the driver; one client
per TF process.
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from enum import Enum

import grpc

from bridge.auth import TOKEN_METADATA_KEY, check_token, new_token, token_metadata
from bridge.deadline import Deadline
from bridge.errors import (
    CoordinatorError,
    InvalidTaskError,
    JobAbortedError,
    ParamError,
    PeerFailedError,
)
from bridge.protos import channel_pb2, coordinator_pb2, coordinator_pb2_grpc

__all__ = [
    "Cluster",
    "CoordinatorClient",
    "CoordinatorError",
    "CoordinatorServer",
    "CoordinatorState",
    "EventKind",
    "InvalidTaskError",
    "PeerFailedError",
    "RENDEZVOUS_SETTING",
    "RPC_SETTING",
    "Rendezvous",
    "RoundEvent",
    "TOKEN_METADATA_KEY",
    "flink_task_name",
    "main",
]

RENDEZVOUS_SETTING = "rendezvousTimeoutS"
RPC_SETTING = "rpcTimeoutS"

_REGISTER_SLICE_S = 2.0
_WATCH_SLICE_S = 10.0
_HOLD_MARGIN_S = 0.25
_MIN_CALL_S = 0.5
_RETRY_S = 0.1
# gRPC enforces call deadlines itself; this watchdog only gives up on a call that outlives its
# deadline by this much, so no gRPC anomaly can hang a TF process.
_WATCHDOG_GRACE_S = 1.0
_WAIT_STEP_S = 0.5
_KEPT_ROUNDS = 16
_MAX_SUMMARY_CHARS = 8192
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

_Key = tuple[int, int]  # (channel_pb2.Role value, index)
_ROLE_NAMES = {channel_pb2.WORKER: "worker", channel_pb2.PS: "ps"}
_CHIEF: _Key = (channel_pb2.WORKER, 0)


# --- plain values ----------------------------------------------------------------------------


class EventKind(Enum):
    """The outcome of a round, as sent to every task."""

    ABORT = "abort"
    FINISH = "finish"


@dataclass(frozen=True)
class RoundEvent:
    """The outcome of a round: ABORT (with the failed task and its summary) or FINISH."""

    kind: EventKind
    round: int
    failed_task: channel_pb2.TaskId | None = None
    reason: str = ""


@dataclass(frozen=True)
class Cluster:
    """The whole cluster of a round, identical for every task of it.

    Attributes:
        round: the round this cluster belongs to.
        worker_addresses: ``host:port`` of worker 0..W-1 (Flink-side numbering; 0 is the chief).
        ps_addresses: ``host:port`` of ps 0..P-1.
        worker_dataset_lengths: the exact shard size of worker 0..W-1.
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
        missing: tasks that have not registered yet, workers first, in index order.
        outcome: the round's ABORT or FINISH, once known.
        waited_s: seconds since the round started (by the state's clock).
    """

    round: int
    cluster: Cluster | None
    missing: tuple[channel_pb2.TaskId, ...]
    outcome: RoundEvent | None
    waited_s: float

    @property
    def complete(self) -> bool:
        """Whether every task has registered."""
        return self.cluster is not None


def flink_task_name(task: channel_pb2.TaskId) -> str:
    """The Flink-side name of a task, e.g. ``worker:2`` or ``ps:0`` (not the TF_CONFIG name)."""
    return f"{_ROLE_NAMES.get(task.role, 'unknown')}:{task.index}"


def _task_id(key: _Key) -> channel_pb2.TaskId:
    return channel_pb2.TaskId(role=key[0], index=key[1])


def _join_host_port(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


# --- the rules -------------------------------------------------------------------------------


class _Round:
    """Mutable state of one round; only touched under the state's lock."""

    def __init__(self, number: int, started_at: float):
        self.number = number
        self.started_at = started_at
        self.addresses: dict[_Key, str] = {}
        self.lengths: dict[int, int] = {}
        self.succeeded: set[_Key] = set()
        self.serve_only: set[_Key] = set()
        self.outcome: RoundEvent | None = None


class CoordinatorState:
    """The coordinator's rules as a plain, thread-safe object (no gRPC); see the module docstring.

    Rounds are numbered from 1. Methods that take ``round_number`` accept 0 for "the current
    round". Waiting methods block in real time for at most ``timeout_s`` (0 never blocks); the
    injectable ``clock`` only timestamps rounds, so rule tests need no sleeps.

    Args:
        num_workers: number of worker tasks, at least 1.
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
        self._clock = clock
        self._cond = threading.Condition()
        self._rounds: dict[int, _Round] = {1: _Round(1, clock())}
        self._current = 1
        self._closed = False

    # -- lookups (caller holds the lock) --

    def _key(self, task: channel_pb2.TaskId) -> _Key:
        limit = {channel_pb2.WORKER: self.num_workers, channel_pb2.PS: self.num_ps}.get(task.role)
        if limit is None:
            raise InvalidTaskError(flink_task_name(task), "has no role (worker or ps)")
        if not 0 <= task.index < limit:
            raise InvalidTaskError(
                flink_task_name(task),
                f"is not in this job ({self.num_workers} workers, {self.num_ps} ps)",
            )
        return (task.role, task.index)

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

    def _all_keys(self) -> list[_Key]:
        return [(channel_pb2.WORKER, i) for i in range(self.num_workers)] + [
            (channel_pb2.PS, i) for i in range(self.num_ps)
        ]

    def _snapshot(self, rnd: _Round) -> Rendezvous:
        missing = tuple(_task_id(k) for k in self._all_keys() if k not in rnd.addresses)
        cluster = None
        if not missing:
            cluster = Cluster(
                round=rnd.number,
                worker_addresses=tuple(
                    rnd.addresses[(channel_pb2.WORKER, i)] for i in range(self.num_workers)
                ),
                ps_addresses=tuple(rnd.addresses[(channel_pb2.PS, i)] for i in range(self.num_ps)),
                worker_dataset_lengths=tuple(rnd.lengths[i] for i in range(self.num_workers)),
            )
        waited_s = max(0.0, self._clock() - rnd.started_at)
        return Rendezvous(rnd.number, cluster, missing, rnd.outcome, waited_s)

    def _forgotten(self, round_number: int) -> Rendezvous:
        reason = f"round {round_number} ended long ago; round {self._current} is running"
        outcome = RoundEvent(EventKind.ABORT, round_number, None, reason)
        return Rendezvous(round_number, None, (), outcome, 0.0)

    def _settle(self, rnd: _Round) -> None:
        """Apply the finish rule; caller holds the lock."""
        if rnd.outcome is not None or _CHIEF not in rnd.succeeded:
            return
        for index in range(self.num_workers):
            key = (channel_pb2.WORKER, index)
            if key not in rnd.serve_only and key not in rnd.succeeded:
                return
        rnd.outcome = RoundEvent(EventKind.FINISH, rnd.number)
        self._cond.notify_all()

    # -- public API --

    @property
    def current_round(self) -> int:
        """The number of the current round (the latest one, running or ended)."""
        with self._cond:
            return self._current

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        with self._cond:
            return self._closed

    def resolve_round(self, task: channel_pb2.TaskId, round_number: int = 0) -> int:
        """Check that ``task`` belongs to the job and turn round 0 into the current round."""
        with self._cond:
            self._key(task)
            self._lookup(round_number)
            return round_number or self._current

    def register(
        self,
        task: channel_pb2.TaskId,
        address: str,
        dataset_length: int = 0,
        round_number: int = 0,
    ) -> int:
        """Record a task's address and shard size; returns the round it belongs to.

        With ``round_number`` 0 the task joins the current round, or starts a new one when the
        current round has ended. With a round number (a repeated long poll) it stays in that
        round; a round that has ended is left untouched, and its outcome tells the caller.

        Raises:
            InvalidTaskError: the task or round is not part of the job.
        """
        with self._cond:
            key = self._key(task)
            rnd = self._lookup(round_number)
            if rnd is None:
                return round_number
            if round_number == 0 and rnd.outcome is not None:
                rnd = self._start_round()
            if rnd.outcome is not None:
                return rnd.number
            rnd.addresses[key] = address
            if key[0] == channel_pb2.WORKER:
                rnd.lengths[key[1]] = dataset_length
            rnd.succeeded.discard(key)
            self._cond.notify_all()
            return rnd.number

    def rendezvous(self, round_number: int = 0) -> Rendezvous:
        """A snapshot of the round: cluster (once complete), missing tasks and outcome."""
        with self._cond:
            rnd = self._lookup(round_number)
            return self._forgotten(round_number) if rnd is None else self._snapshot(rnd)

    def cluster_if_complete(self, round_number: int = 0) -> Cluster | None:
        """The round's cluster when every task has registered, else ``None``."""
        return self.rendezvous(round_number).cluster

    def missing(self, round_number: int = 0) -> list[channel_pb2.TaskId]:
        """Tasks that have not registered in the round yet, workers first, in index order."""
        return list(self.rendezvous(round_number).missing)

    def wait_rendezvous(self, round_number: int, timeout_s: float) -> Rendezvous:
        """Wait up to ``timeout_s`` for the round to complete or end; returns a snapshot."""

        def settled() -> bool:
            rnd = self._lookup(round_number)
            if self._closed or rnd is None or rnd.outcome is not None:
                return True
            return len(rnd.addresses) == self.num_workers + self.num_ps

        with self._cond:
            self._cond.wait_for(settled, timeout=max(0.0, timeout_s))
            rnd = self._lookup(round_number)
            return self._forgotten(round_number) if rnd is None else self._snapshot(rnd)

    def report_done(
        self,
        task: channel_pb2.TaskId,
        success: bool,
        summary: str = "",
        round_number: int = 0,
        serve_only: bool = False,
    ) -> RoundEvent | None:
        """Record that a task's user code returned or raised; returns the round's outcome.

        A failure aborts the round (rule 2); a success may finish it (rule 3). With
        ``serve_only`` the task is also marked serve-only. Reports for an ended round are ignored.

        Raises:
            InvalidTaskError: the task is not in the job, or the chief is marked serve-only.
        """
        with self._cond:
            key = self._key(task)
            rnd = self._lookup(round_number)
            if rnd is None or rnd.outcome is not None:
                return None if rnd is None else rnd.outcome
            if serve_only:
                self._mark_locked(rnd, key, task)
            if not success:
                reason = summary or f"{flink_task_name(task)} failed without an error message"
                rnd.outcome = RoundEvent(EventKind.ABORT, rnd.number, _task_id(key), reason)
                self._cond.notify_all()
                return rnd.outcome
            rnd.succeeded.add(key)
            self._settle(rnd)
            return rnd.outcome

    def mark_serve_only(self, task: channel_pb2.TaskId, round_number: int = 0) -> RoundEvent | None:
        """Mark a task as one that only serves; returns the round's outcome (may now be FINISH).

        Raises:
            InvalidTaskError: the task is not in the job, or it is the chief.
        """
        with self._cond:
            key = self._key(task)
            rnd = self._lookup(round_number)
            if rnd is None or rnd.outcome is not None:
                return None if rnd is None else rnd.outcome
            self._mark_locked(rnd, key, task)
            self._settle(rnd)
            return rnd.outcome

    def _mark_locked(self, rnd: _Round, key: _Key, task: channel_pb2.TaskId) -> None:
        if key == _CHIEF:
            raise InvalidTaskError(
                flink_task_name(task),
                "the chief (worker 0) cannot be serve-only: the job finishes when its main returns",
            )
        rnd.serve_only.add(key)

    def outcome(self, round_number: int = 0) -> RoundEvent | None:
        """The round's ABORT or FINISH, or ``None`` while it runs."""
        return self.rendezvous(round_number).outcome

    def events_for(self, task: channel_pb2.TaskId, round_number: int = 0) -> list[RoundEvent]:
        """The events ``task`` is to receive in the round: its outcome, once known.

        Every task receives the outcome, the failed one included.

        Raises:
            InvalidTaskError: the task is not in the job.
        """
        with self._cond:
            self._key(task)
            rnd = self._lookup(round_number)
            if rnd is None:
                return [self._forgotten(round_number).outcome]  # type: ignore[list-item]
            return [] if rnd.outcome is None else [rnd.outcome]

    def wait_event(self, round_number: int, timeout_s: float) -> RoundEvent | None:
        """Wait up to ``timeout_s`` for the round's outcome; ``None`` on timeout or close."""

        def known() -> bool:
            rnd = self._lookup(round_number)
            return self._closed or rnd is None or rnd.outcome is not None

        with self._cond:
            self._cond.wait_for(known, timeout=max(0.0, timeout_s))
            rnd = self._lookup(round_number)
            if rnd is None:
                return self._forgotten(round_number).outcome
            return rnd.outcome

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


# --- gRPC translation ------------------------------------------------------------------------


def _hold_s(context: grpc.ServicerContext, cap_s: float) -> float:
    """How long a long poll may hold: the cap, less when the caller's deadline is nearer."""
    remaining = context.time_remaining()
    if remaining is None:
        return cap_s
    return max(0.0, min(cap_s, remaining - _HOLD_MARGIN_S))


def _abort_message(event: RoundEvent) -> coordinator_pb2.Abort:
    abort = coordinator_pb2.Abort(reason=event.reason)
    if event.failed_task is not None:
        abort.failed_task.CopyFrom(event.failed_task)
    return abort


def _cluster_info(view: Rendezvous) -> coordinator_pb2.ClusterInfo:
    info = coordinator_pb2.ClusterInfo(round=view.round, missing=view.missing)
    if view.outcome is not None and view.outcome.kind is EventKind.ABORT:
        info.abort.CopyFrom(_abort_message(view.outcome))
    if view.cluster is not None:
        info.complete = True
        info.worker_addresses.extend(view.cluster.worker_addresses)
        info.ps_addresses.extend(view.cluster.ps_addresses)
        info.worker_dataset_lengths.extend(view.cluster.worker_dataset_lengths)
    return info


def _event_message(event: RoundEvent) -> coordinator_pb2.Event:
    if event.kind is EventKind.ABORT:
        return coordinator_pb2.Event(round=event.round, abort=_abort_message(event))
    return coordinator_pb2.Event(round=event.round, finish=coordinator_pb2.Finish())


def _event_from(message: coordinator_pb2.Event) -> RoundEvent:
    if message.WhichOneof("kind") == "abort":
        failed = None
        if message.abort.HasField("failed_task"):
            failed = channel_pb2.TaskId()
            failed.CopyFrom(message.abort.failed_task)
        return RoundEvent(EventKind.ABORT, message.round, failed, message.abort.reason)
    return RoundEvent(EventKind.FINISH, message.round)


class _CoordinatorServicer(coordinator_pb2_grpc.CoordinatorServicer):
    """Translates gRPC calls into :class:`CoordinatorState` calls, after checking the token."""

    def __init__(
        self, token: str, state: CoordinatorState, register_slice_s: float, watch_slice_s: float
    ):
        self._token = token
        self._state = state
        self._register_slice_s = register_slice_s
        self._watch_slice_s = watch_slice_s

    def _authorize(self, context: grpc.ServicerContext) -> None:
        check_token(context, self._token)

    def Register(self, request, context):  # noqa: N802 (gRPC method name)
        """Record the task, then hold until the round's rendezvous completes or the slice ends."""
        self._authorize(context)
        address = _join_host_port(request.host, request.port)
        try:
            number = self._state.register(
                request.task, address, request.dataset_length, request.round
            )
            view = self._state.wait_rendezvous(
                number, _hold_s(context, self._register_slice_s)
            )
        except InvalidTaskError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return _cluster_info(view)

    def ReportDone(self, request, context):  # noqa: N802 (gRPC method name)
        """Record the task's success or failure."""
        self._authorize(context)
        try:
            self._state.report_done(
                request.task, request.success, request.error_summary, request.round,
                request.serve_only,
            )
        except InvalidTaskError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return coordinator_pb2.DoneAck()

    def MarkServeOnly(self, request, context):  # noqa: N802 (gRPC method name)
        """Mark the task serve-only."""
        self._authorize(context)
        try:
            self._state.mark_serve_only(request.task, request.round)
        except InvalidTaskError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return coordinator_pb2.ServeOnlyAck()

    def Watch(self, request, context):  # noqa: N802 (gRPC method name)
        """Answer the round's outcome once known, or an Event without a kind after the slice."""
        self._authorize(context)
        try:
            number = self._state.resolve_round(request.task, request.round)
        except InvalidTaskError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        end = time.monotonic() + _hold_s(context, self._watch_slice_s)
        while True:
            left = end - time.monotonic()
            event = self._state.wait_event(number, min(max(left, 0.0), _WAIT_STEP_S))
            if event is not None:
                return _event_message(event)
            if left <= 0 or not context.is_active() or self._state.closed:
                return coordinator_pb2.Event(round=number)


class CoordinatorServer:
    """The job's coordinator: a gRPC server over a :class:`CoordinatorState`.

    Args:
        num_workers: number of worker tasks.
        num_ps: number of parameter-server tasks.
        token: the job token every call must carry; a random one when ``None``.
        host: the interface to bind. Loopback by default (local mini-cluster); a standalone
            cluster with TaskManagers on other hosts needs ``"0.0.0.0"``.
        port: the port to bind; 0 picks a free one.
        advertised_host: the host name put in :attr:`address`; defaults to ``host``, or this
            host's name for a wildcard bind.
        clock: the state's clock.
        register_slice_s: the longest a ``Register`` long poll is held.
        watch_slice_s: the longest a ``Watch`` long poll is held without an event.

    Attributes:
        address: ``host:port`` for clients.
        token: the job token.
        state: the rules object.

    Raises:
        CoordinatorError: the port cannot be bound.

    Lifetime: serves every round of one job until :meth:`close`; usable as a context manager.
    """

    def __init__(
        self,
        num_workers: int,
        num_ps: int,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        advertised_host: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        register_slice_s: float = _REGISTER_SLICE_S,
        watch_slice_s: float = _WATCH_SLICE_S,
    ):
        self.state = CoordinatorState(num_workers, num_ps, clock)
        self.token = token or new_token()
        tasks = num_workers + num_ps
        # Each task may hold a Register long poll and a Watch long poll at once; headroom for
        # restarted processes and rejected callers.
        executor = futures.ThreadPoolExecutor(
            max_workers=2 * tasks + 8, thread_name_prefix="akdl-coordinator"
        )
        self._server = grpc.server(executor, options=[("grpc.so_reuseport", 0)])
        coordinator_pb2_grpc.add_CoordinatorServicer_to_server(
            _CoordinatorServicer(self.token, self.state, register_slice_s, watch_slice_s),
            self._server,
        )
        bound = self._server.add_insecure_port(_join_host_port(host, port))
        if bound == 0:
            raise CoordinatorError("bind", "UNAVAILABLE", f"could not bind {host}:{port}")
        self.port = bound
        if advertised_host is None:
            advertised_host = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
        self.address = _join_host_port(advertised_host, bound)
        self._server.start()

    def cancel(self, reason: str) -> None:
        """Abort the running round, if any: its tasks receive ABORT and end."""
        self.state.cancel(reason)

    def close(self, grace_s: float = 0.5) -> None:
        """Wake every held call and stop the server; later calls do nothing."""
        if self.state.closed:
            return
        self.state.close()
        self._server.stop(grace_s).wait(grace_s + 1.0)

    def __enter__(self) -> CoordinatorServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _Unanswered(grpc.RpcError):
    """A call the client watchdog ended: it outlived its deadline without gRPC ending it."""

    def __init__(self, timeout_s: float):
        super().__init__()
        self._timeout_s = timeout_s

    def code(self) -> grpc.StatusCode:
        """Reads as an exceeded deadline."""
        return grpc.StatusCode.DEADLINE_EXCEEDED

    def details(self) -> str:
        """What happened."""
        return f"no answer within {self._timeout_s:g}s (client watchdog)"


def _unary_call(method, request, metadata, timeout_s: float):
    """One unary call with a deadline, plus a watchdog in case gRPC does not enforce it."""
    future = method.future(request, metadata=metadata, timeout=timeout_s)
    try:
        return future.result(timeout=timeout_s + _WATCHDOG_GRACE_S)
    except grpc.FutureTimeoutError:
        future.cancel()
        raise _Unanswered(timeout_s) from None


class CoordinatorClient:
    """A TF process's connection to the job's coordinator.

    Every call carries the token and a deadline. Calls after :meth:`register` belong to the round
    it joined.

    Args:
        address: the coordinator's ``host:port``.
        token: the job token.
        task: this process's task (Flink-side numbering).
        timeout_s: the deadline of one call (``rpcTimeoutS``); the rendezvous has its own.

    Lifetime: one per TF process; :meth:`close` ends the watch thread too.
    """

    def __init__(self, address: str, token: str, task: channel_pb2.TaskId, timeout_s: float):
        self.address = address
        self.task = task
        self.timeout_s = timeout_s
        self.round = 0
        self._metadata = token_metadata(token)
        self._channel = grpc.insecure_channel(address)
        self._stub = coordinator_pb2_grpc.CoordinatorStub(self._channel)
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None

    @staticmethod
    def rendezvous_deadline(
        timeout_s: float | None, clock: Callable[[], float] = time.monotonic
    ) -> Deadline:
        """The deadline for :meth:`register`, naming the ``rendezvousTimeoutS`` parameter."""
        return Deadline(
            timeout_s, "every TF process of the job to register with the coordinator",
            RENDEZVOUS_SETTING, clock,
        )

    def _error(self, call: str, exc: grpc.RpcError) -> CoordinatorError:
        return CoordinatorError(call, exc.code().name, f"{exc.details()} (at {self.address})")

    def register(self, host: str, port: int, dataset_length: int, deadline: Deadline) -> Cluster:
        """Register this task and wait until every task of the round has.

        Args:
            host: the host peers reach this task's TF server at.
            port: that server's port.
            dataset_length: the exact record count of this task's shard (0 for ps).
            deadline: the rendezvous deadline, e.g. :meth:`rendezvous_deadline`.

        Returns:
            The round's cluster, identical for every task.

        Raises:
            DeadlineExceeded: the deadline passed; names the tasks that never registered.
            PeerFailedError: another task failed before the rendezvous completed.
            CoordinatorError: the call was rejected (wrong token, task not in the job).
        """
        missing = ""
        while True:
            request = coordinator_pb2.RegisterRequest(
                task=self.task, host=host, port=port, dataset_length=dataset_length,
                round=self.round,
            )
            remaining = deadline.remaining_s()
            call_s = max(_MIN_CALL_S, self.timeout_s if remaining is None
                         else min(self.timeout_s, remaining))
            try:
                reply = _unary_call(self._stub.Register, request, self._metadata, call_s)
            except grpc.RpcError as exc:
                if exc.code() not in _RETRYABLE:
                    raise self._error("Register", exc) from exc
                if deadline.expired():
                    unreachable = f"an answer from the coordinator at {self.address}"
                    raise deadline.error(missing or f"{unreachable} ({exc.code().name})") from exc
                time.sleep(deadline.slice_s(_RETRY_S))
                continue
            self.round = reply.round
            if reply.HasField("abort"):
                if not reply.abort.HasField("failed_task"):  # aborted from outside, a cancel
                    raise JobAbortedError(
                        f"the job's round {reply.round} was aborted: {reply.abort.reason}"
                    )
                raise PeerFailedError(
                    flink_task_name(reply.abort.failed_task), reply.abort.reason, reply.round
                )
            if reply.complete:
                return Cluster(
                    round=reply.round,
                    worker_addresses=tuple(reply.worker_addresses),
                    ps_addresses=tuple(reply.ps_addresses),
                    worker_dataset_lengths=tuple(reply.worker_dataset_lengths),
                )
            missing = ", ".join(flink_task_name(t) for t in reply.missing)
            deadline.check(missing)

    def _unary(self, name: str, method, request) -> None:
        deadline = Deadline(self.timeout_s, f"the coordinator to accept {name}", RPC_SETTING)
        while True:
            try:
                call_s = max(_MIN_CALL_S, deadline.remaining_s() or 0.0)
                _unary_call(method, request, self._metadata, call_s)
                return
            except grpc.RpcError as exc:
                if exc.code() not in _RETRYABLE:
                    raise self._error(name, exc) from exc
                if deadline.expired() or exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise deadline.error(f"an answer from {self.address}") from exc
                time.sleep(deadline.slice_s(_RETRY_S))

    def report_done(self, success: bool, summary: str = "", serve_only: bool = False) -> None:
        """Report that this task's user code returned (``success``) or raised.

        Args:
            success: whether it returned normally.
            summary: a short error text (exception type and message) on failure; it reaches every
                peer in the ABORT and is truncated to 8 KiB.
            serve_only: also mark this task serve-only.

        Raises:
            DeadlineExceeded: the coordinator did not answer within ``timeout_s``.
            CoordinatorError: the call was rejected.
        """
        request = coordinator_pb2.DoneRequest(
            task=self.task, success=success, error_summary=summary[:_MAX_SUMMARY_CHARS],
            serve_only=serve_only, round=self.round,
        )
        self._unary("ReportDone", self._stub.ReportDone, request)

    def mark_serve_only(self) -> None:
        """Tell the coordinator this task will only ``server.join()`` from now on.

        Raises:
            DeadlineExceeded: the coordinator did not answer within ``timeout_s``.
            CoordinatorError: the call was rejected (e.g. for the chief).
        """
        request = coordinator_pb2.ServeOnlyRequest(task=self.task, round=self.round)
        self._unary("MarkServeOnly", self._stub.MarkServeOnly, request)

    def watch(
        self,
        on_event: Callable[[RoundEvent], None],
        on_lost: Callable[[CoordinatorError], None] | None = None,
    ) -> threading.Thread:
        """Start a daemon thread that calls ``on_event`` with the round's ABORT or FINISH.

        Call it after :meth:`register`. The thread ends after the event, on :meth:`close`, or
        when the coordinator is unreachable for ``timeout_s`` or rejects the call; then
        ``on_lost`` (if given) receives the error.

        Returns:
            The started thread.
        """
        self._watcher = threading.Thread(
            target=self._watch_loop, args=(on_event, on_lost), name="akdl-coordinator-watch",
            daemon=True,
        )
        self._watcher.start()
        return self._watcher

    def _watch_loop(self, on_event, on_lost) -> None:
        # The server answers an event-less poll before the call's deadline, so a poll that is
        # refused or outlives its deadline counts as the coordinator being unreachable.
        unreachable_since: float | None = None
        call_s = max(_MIN_CALL_S, self.timeout_s)
        while not self._closed.is_set():
            request = coordinator_pb2.WatchRequest(task=self.task, round=self.round)
            try:
                event = self._watch_once(request, call_s)
            except ValueError:  # the channel was closed under us
                return
            except grpc.RpcError as exc:
                if self._closed.is_set():
                    return
                if exc.code() in _RETRYABLE:
                    now = time.monotonic()
                    unreachable_since = unreachable_since or now
                    if now - unreachable_since < self.timeout_s:
                        self._closed.wait(_RETRY_S)
                        continue
                if on_lost is not None:
                    on_lost(self._error("Watch", exc))
                return
            if event is not None:
                on_event(event)
                return
            unreachable_since = None

    def _watch_once(self, request, call_s: float) -> RoundEvent | None:
        """One Watch long poll: the event, or ``None`` when the server's slice ended first."""
        reply = _unary_call(self._stub.Watch, request, self._metadata, call_s)
        return None if reply.WhichOneof("kind") is None else _event_from(reply)

    def close(self) -> None:
        """Close the channel and stop the watch thread."""
        self._closed.set()
        self._channel.close()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(1.0)


# --- standalone entry ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a coordinator until SIGTERM or SIGINT; prints ``address token`` on one line.

    Usage: ``python -m bridge.coordinator --workers W --ps P [--host H] [--port N]
    [--advertised-host NAME]``. For detached cluster submission; the caller passes the printed
    address and token to the job.
    """
    parser = argparse.ArgumentParser(prog="python -m bridge.coordinator", description=main.__doc__)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--ps", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--advertised-host", default=None)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = CoordinatorServer(
        args.workers, args.ps, host=args.host, port=args.port,
        advertised_host=args.advertised_host,
    )
    try:
        print(f"{server.address} {server.token}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
