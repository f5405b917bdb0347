"""A TF process's connection to its stage's coordinator (runs in the TF process).

Never imports TensorFlow. Every call carries the token and a deadline; a watchdog gives up on a
call that outlives its deadline, so no gRPC anomaly can hang a TF process.

Lifetime: one :class:`CoordinatorClient` per TF process; :meth:`CoordinatorClient.close` ends
its watch thread too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc

from bridge.auth import token_metadata
from bridge.coordinator.messages import abort_from, cluster_from, event_from
from bridge.coordinator.rules import Cluster, RoundEvent
from bridge.deadline import Deadline
from bridge.errors import CoordinatorError, JobAbortedError, PeerFailedError
from bridge.protos import coordinator_pb2, coordinator_pb2_grpc
from bridge.task_ref import TaskRef

__all__ = ["RENDEZVOUS_SETTING", "RPC_SETTING", "CoordinatorClient", "abort_error"]

RENDEZVOUS_SETTING = "rendezvousTimeoutS"
RPC_SETTING = "rpcTimeoutS"

_MIN_CALL_S = 0.5
_RETRY_S = 0.1
_WATCHDOG_GRACE_S = 1.0
_MAX_SUMMARY_CHARS = 8192
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def abort_error(event: RoundEvent) -> PeerFailedError | JobAbortedError:
    """The error a task raises for its round's ABORT: a peer's failure, or a cancel."""
    if event.failed_task is None:
        return JobAbortedError(f"the job's round {event.round} was aborted: {event.reason}")
    return PeerFailedError(event.failed_task.label, event.reason, event.round)


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
    """A TF process's connection to its stage's coordinator.

    Calls after :meth:`register` belong to the round it joined.

    Args:
        address: the coordinator's ``host:port``.
        token: the job token.
        task: this process's task.
        timeout_s: the deadline of one call (``rpcTimeoutS``); the rendezvous has its own.
    """

    def __init__(self, address: str, token: str, task: TaskRef, timeout_s: float):
        self.address = address
        self.task = task
        self.timeout_s = timeout_s
        self.round = 0
        self._task_id = task.to_proto()
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
            timeout_s, "every TF process of the stage to register with the coordinator",
            RENDEZVOUS_SETTING, clock,
        )

    def _error(self, call: str, exc: grpc.RpcError) -> CoordinatorError:
        return CoordinatorError(call, exc.code().name, f"{exc.details()} (at {self.address})")

    def register(
        self, host: str, port: int, dataset_length: int, deadline: Deadline, solo: bool = False
    ) -> Cluster:
        """Register this task and wait until every task of the round has.

        Args:
            host: the host peers reach this task's TF server at.
            port: that server's port.
            dataset_length: the exact record count of this task's shard (0 for ps).
            deadline: the rendezvous deadline, e.g. :meth:`rendezvous_deadline`.
            solo: the task needs no cluster: answer at once (a cluster of just this task).

        Returns:
            The round's cluster, identical for every task.

        Raises:
            DeadlineExceeded: the deadline passed; names the tasks that never registered.
            PeerFailedError: another task failed before the rendezvous completed.
            JobAbortedError: the round was aborted from outside (a cancel).
            CoordinatorError: the call was rejected (wrong token, task not in the stage).
        """
        missing = ""
        while True:
            request = coordinator_pb2.RegisterRequest(
                task=self._task_id, host=host, port=port, dataset_length=dataset_length,
                round=self.round, solo=solo,
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
            abort = abort_from(reply)
            if abort is not None:
                raise abort_error(abort)
            if reply.complete:
                return cluster_from(reply)
            missing = ", ".join(TaskRef.from_proto(t).describe() for t in reply.missing)
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
            summary: a short error text on failure; it reaches every peer in the ABORT and is
                truncated to 8 KiB.
            serve_only: also mark this task serve-only.

        Raises:
            DeadlineExceeded: the coordinator did not answer within ``timeout_s``.
            CoordinatorError: the call was rejected.
        """
        request = coordinator_pb2.DoneRequest(
            task=self._task_id, success=success, error_summary=summary[:_MAX_SUMMARY_CHARS],
            serve_only=serve_only, round=self.round,
        )
        self._unary("ReportDone", self._stub.ReportDone, request)

    def mark_serve_only(self) -> None:
        """Tell the coordinator this task will only ``server.join()`` from now on.

        Raises:
            DeadlineExceeded: the coordinator did not answer within ``timeout_s``.
            CoordinatorError: the call was rejected (e.g. for the chief).
        """
        request = coordinator_pb2.ServeOnlyRequest(task=self._task_id, round=self.round)
        self._unary("MarkServeOnly", self._stub.MarkServeOnly, request)

    def log_metrics(self, points: list) -> None:
        """Send metric points (``channel_pb2.MetricPoint``) to the coordinator.

        Raises:
            DeadlineExceeded: the coordinator did not answer within ``timeout_s``.
            CoordinatorError: the call was rejected.
        """
        request = coordinator_pb2.LogMetricsRequest(
            task=self._task_id, points=points, round=self.round
        )
        self._unary("LogMetrics", self._stub.LogMetrics, request)

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

    @property
    def watching(self) -> bool:
        """Whether the watch thread runs (it ends after the event, on close or when lost)."""
        return self._watcher is not None and self._watcher.is_alive()

    def _watch_loop(self, on_event, on_lost) -> None:
        # The server answers an event-less poll before the call's deadline, so a poll that is
        # refused or outlives its deadline counts as the coordinator being unreachable.
        unreachable_since: float | None = None
        call_s = max(_MIN_CALL_S, self.timeout_s)
        while not self._closed.is_set():
            request = coordinator_pb2.WatchRequest(task=self._task_id, round=self.round)
            try:
                reply = _unary_call(self._stub.Watch, request, self._metadata, call_s)
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
            event = event_from(reply)
            if event is not None:
                on_event(event)
                return
            unreachable_since = None

    def close(self) -> None:
        """Close the channel and stop the watch thread."""
        self._closed.set()
        self._channel.close()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(1.0)
