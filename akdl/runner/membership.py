"""This TF process's place in the job's cluster, learned from the coordinator (TF process).

The runner registers this task (its TF server's ``host:port`` and its shard size) once the
shard is spooled, and gets back the whole cluster. A watch thread then waits for the round's
outcome:

* ABORT (another task failed): ``on_abort`` ends this process, so no peer hangs in a collective;
* FINISH (the chief and every worker that runs user code are done): ``on_finish`` ends this
  process if it is serve-only, i.e. a parameter server or a task blocked in
  ``tf.distribute.Server.join()``. A task still running user code is never ended by FINISH.
* the coordinator is lost (unreachable for ``rpcTimeoutS``, or it rejects this task):
  ``on_lost`` ends this process, so no TF process outlives its driver's coordinator.

A task whose ``main`` succeeded waits for FINISH (:meth:`ClusterMembership.wait_finish`) before
it hands its result to Flink: until every peer has succeeded its own success is provisional,
since a peer that fails later makes Flink restart the whole stage.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from bridge.addresses import LOOPBACK, tf_advertised_host
from bridge.cluster import build_cluster
from bridge.coordinator.client import CoordinatorClient
from bridge.coordinator.rules import EventKind, RoundEvent
from bridge.errors import CoordinatorError, DeadlineExceeded
from bridge.protos import task_spec_pb2
from bridge.task_ref import Role, TaskRef

__all__ = ["ClusterMembership"]

_FINISH_POLL_S = 0.5
_log = logging.getLogger("akdl.runner")


def _free_port(host: str) -> int:
    """A port free right now, for this task's TF server (which binds it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ClusterMembership:
    """Registration with the coordinator and reaction to the round's outcome.

    Lifetime: one per TF process, from the end of spooling until the process exits.
    """

    def __init__(
        self,
        spec: task_spec_pb2.TaskSpec,
        on_abort: Callable[[RoundEvent], None],
        on_finish: Callable[[], None],
        on_lost: Callable[[CoordinatorError], None],
    ):
        self.task = TaskRef.from_proto(spec.task)
        self.serve_only = self.task.role is Role.PS
        self._on_abort = on_abort
        self._on_finish = on_finish
        self._on_lost = on_lost
        self._finished = threading.Event()
        # Without a coordinator the task is alone: a cluster of just itself.
        self._client = (
            CoordinatorClient(
                spec.coordinator_address, spec.coordinator_token, self.task, spec.rpc_timeout_s
            )
            if spec.coordinator_address
            else None
        )
        self._rendezvous_timeout_s = spec.rendezvous_timeout_s or None
        self.cluster: dict[str, list[str]] = {}
        self.worker_dataset_lengths: list[int] = []

    def join(self, dataset_length: int, solo: bool = False) -> dict[str, list[str]]:
        """Register, wait for every task, start watching; returns the TF cluster.

        A ``solo`` task (one that needs no cluster, such as a predict task) does not wait for
        the others and gets an empty cluster; it still watches for the round's ABORT.
        """
        host = tf_advertised_host()
        port = _free_port(host if host == LOOPBACK else "")
        if solo:
            if self._client is not None:
                deadline = self._client.rendezvous_deadline(self._rendezvous_timeout_s)
                self._client.register(host, port, dataset_length, deadline, solo=True)
                self._client.watch(self._on_event, self._on_lost)
            return {}
        if self._client is None:
            self.cluster = build_cluster([f"{host}:{port}"], [])
            self.worker_dataset_lengths = [dataset_length]
            return self.cluster
        deadline = self._client.rendezvous_deadline(self._rendezvous_timeout_s)
        try:
            info = self._client.register(host, port, dataset_length, deadline)
        except DeadlineExceeded as exc:
            raise DeadlineExceeded(
                exc.waited_for, exc.timeout_s, exc.missing,
                f"{exc.setting}; a TF stage needs numWorkers + numPSs free task slots at once",
            ) from exc
        self.cluster = build_cluster(info.worker_addresses, info.ps_addresses)
        self.worker_dataset_lengths = list(info.worker_dataset_lengths)
        self._client.watch(self._on_event, self._on_lost)
        return self.cluster

    def _on_event(self, event: RoundEvent) -> None:
        if event.kind is EventKind.ABORT:
            if event.failed_task != self.task:
                self._on_abort(event)
            return
        self._finished.set()
        if self.serve_only:
            self._on_finish()

    def wait_finish(self) -> None:
        """After this task's success: wait until the round finishes (every worker succeeded).

        A peer's later failure or the coordinator's loss ends this process through the watch
        thread meanwhile. Returns at once without a coordinator, or in a one-task stage.
        """
        if self._client is None or sum(len(tasks) for tasks in self.cluster.values()) <= 1:
            return
        if not self._finished.is_set():
            _log.info("%s succeeded; waiting for the other tasks of the stage to finish",
                      self.task.label)
        while not self._finished.wait(_FINISH_POLL_S):
            if not self._client.watching:
                return

    def mark_serve_only(self) -> None:
        """This task will only serve (``server.join()``): FINISH may end it."""
        if not self.serve_only:
            self.serve_only = True
            if self._client is not None:
                self._client.mark_serve_only()

    def report_done(self, success: bool, summary: str = "") -> None:
        """Tell the coordinator how this task's ``main`` ended."""
        if self._client is not None:
            self._client.report_done(success, summary)

    def log_metrics(self, points: list) -> None:
        """Send metric points to the coordinator (nothing without one)."""
        if self._client is not None:
            self._client.log_metrics(points)

    def close(self) -> None:
        """Stop watching and close the connection."""
        if self._client is not None:
            self._client.close()
