"""The coordinator's gRPC server over :class:`CoordinatorState` (runs in the Flink driver).

The servicer only checks the token and translates messages; the rules live in
`bridge.coordinator.rules`. ``Register`` and ``Watch`` are long polls, not server streams: with
grpcio 1.65 a stream racing the server's shutdown could leave the client blocked in a read.

Lifetime: one server per stage of one job, closed when the job ends (or, standalone, on
SIGTERM).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent import futures

import grpc

from bridge.auth import check_token, new_token
from bridge.coordinator.messages import cluster_info, event_message, join_host_port
from bridge.coordinator.rules import CoordinatorState
from bridge.errors import CoordinatorError, InvalidTaskError
from bridge.metrics import MetricLog
from bridge.protos import coordinator_pb2, coordinator_pb2_grpc
from bridge.task_ref import TaskRef

__all__ = ["CoordinatorServer"]

_REGISTER_SLICE_S = 2.0
_WATCH_SLICE_S = 10.0
_HOLD_MARGIN_S = 0.25
_WAIT_STEP_S = 0.5
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def _hold_s(context: grpc.ServicerContext, cap_s: float) -> float:
    """How long a long poll may hold: the cap, less when the caller's deadline is nearer."""
    remaining = context.time_remaining()
    if remaining is None:
        return cap_s
    return max(0.0, min(cap_s, remaining - _HOLD_MARGIN_S))


def _task(context: grpc.ServicerContext, message) -> TaskRef:
    try:
        return TaskRef.from_proto(message)
    except ValueError as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise  # unreachable: abort raises


class _CoordinatorServicer(coordinator_pb2_grpc.CoordinatorServicer):
    """Translates gRPC calls into :class:`CoordinatorState` calls, after checking the token."""

    def __init__(
        self, token: str, state: CoordinatorState, metrics: MetricLog, register_slice_s: float,
        watch_slice_s: float,
        on_metrics: Callable[[TaskRef, list], None] | None = None,
    ):
        self._token = token
        self._state = state
        self._metrics = metrics
        self._on_metrics = on_metrics
        self._register_slice_s = register_slice_s
        self._watch_slice_s = watch_slice_s

    def _apply(self, context: grpc.ServicerContext, rule, task_message, *args):
        """Check the token, then apply one rule to the call's task.

        A task or round outside the stage ends the call with INVALID_ARGUMENT.
        """
        check_token(context, self._token)
        try:
            return rule(_task(context, task_message), *args)
        except InvalidTaskError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    def Register(self, request, context):  # noqa: N802 (gRPC method name)
        """Record the task, then hold until the round's rendezvous completes or the slice ends."""
        address = join_host_port(request.host, request.port)
        number = self._apply(context, self._state.register, request.task, address,
                             request.dataset_length, request.round, request.solo)
        if request.solo:
            return cluster_info(self._state.solo_view(number, address))
        view = self._state.wait_rendezvous(number, _hold_s(context, self._register_slice_s))
        return cluster_info(view)

    def ReportDone(self, request, context):  # noqa: N802 (gRPC method name)
        """Record the task's success or failure."""
        self._apply(context, self._state.report_done, request.task, request.success,
                    request.error_summary, request.round, request.serve_only)
        return coordinator_pb2.DoneAck()

    def MarkServeOnly(self, request, context):  # noqa: N802 (gRPC method name)
        """Mark the task serve-only."""
        self._apply(context, self._state.mark_serve_only, request.task, request.round)
        return coordinator_pb2.ServeOnlyAck()

    def Watch(self, request, context):  # noqa: N802 (gRPC method name)
        """Answer the round's outcome once known, or an Event without a kind after the slice."""
        number = self._apply(context, self._state.resolve_round, request.task, request.round)
        end = time.monotonic() + _hold_s(context, self._watch_slice_s)
        while True:
            left = end - time.monotonic()
            event = self._state.wait_event(number, min(max(left, 0.0), _WAIT_STEP_S))
            if event is not None:
                return event_message(event)
            if left <= 0 or not context.is_active() or self._state.closed:
                return coordinator_pb2.Event(round=number)

    def LogMetrics(self, request, context):  # noqa: N802 (gRPC method name)
        """Keep the metric values a task logged."""
        check_token(context, self._token)
        task = _task(context, request.task)
        self._metrics.add(task.label, request.round, list(request.points))
        if self._on_metrics is not None:
            self._on_metrics(task, list(request.points))
        return coordinator_pb2.LogMetricsAck()


class CoordinatorServer:
    """A stage's coordinator: a gRPC server over a :class:`CoordinatorState`.

    Args:
        num_workers: number of worker tasks (the chief included).
        num_ps: number of parameter-server tasks.
        token: the job token every call must carry; a random one when ``None``.
        host: the interface to bind. Loopback by default (local mini-cluster); TaskManagers on
            other hosts need ``"0.0.0.0"``.
        port: the port to bind; 0 picks a free one.
        advertised_host: the host name put in :attr:`address`; defaults to ``host``, or this
            host's name for a wildcard bind.
        clock: the state's clock.
        register_slice_s: the longest a ``Register`` long poll is held.
        watch_slice_s: the longest a ``Watch`` long poll is held without an event.
        on_metrics: also called with each task's logged metric points (the standalone
            coordinator prints them).

    Attributes:
        address: ``host:port`` for clients.
        token: the job token.
        state: the rules object.
        metrics: every metric value the stage's tasks logged.

    Raises:
        CoordinatorError: the port cannot be bound.

    Lifetime: serves every round of one stage until :meth:`close`; usable as a context manager.
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
        on_metrics: Callable[[TaskRef, list], None] | None = None,
    ):
        self.state = CoordinatorState(num_workers, num_ps, clock)
        self.metrics = MetricLog()
        self.token = token or new_token()
        tasks = num_workers + num_ps
        # Each task may hold a Register long poll and a Watch long poll at once; headroom for
        # restarted processes and rejected callers.
        executor = futures.ThreadPoolExecutor(
            max_workers=2 * tasks + 8, thread_name_prefix="akdl-coordinator"
        )
        self._server = grpc.server(executor, options=[("grpc.so_reuseport", 0)])
        coordinator_pb2_grpc.add_CoordinatorServicer_to_server(
            _CoordinatorServicer(self.token, self.state, self.metrics, register_slice_s,
                                 watch_slice_s, on_metrics),
            self._server,
        )
        bound = self._server.add_insecure_port(join_host_port(host, port))
        if bound == 0:
            raise CoordinatorError("bind", "UNAVAILABLE", f"could not bind {host}:{port}")
        self.port = bound
        if advertised_host is None:
            advertised_host = socket.gethostname() if host in _WILDCARD_HOSTS else host
        self.address = join_host_port(advertised_host, bound)
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
