"""Translation between the coordinator's values and its protobuf messages (both processes)."""

from __future__ import annotations

from bridge.coordinator.rules import Cluster, EventKind, Rendezvous, RoundEvent
from bridge.protos import coordinator_pb2
from bridge.task_ref import TaskRef

__all__ = [
    "abort_from",
    "cluster_from",
    "cluster_info",
    "event_from",
    "event_message",
    "join_host_port",
]


def join_host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def _abort_message(event: RoundEvent) -> coordinator_pb2.Abort:
    abort = coordinator_pb2.Abort(reason=event.reason)
    if event.failed_task is not None:
        abort.failed_task.CopyFrom(event.failed_task.to_proto())
    return abort


def _abort_event(round_number: int, abort: coordinator_pb2.Abort) -> RoundEvent:
    failed = TaskRef.from_proto(abort.failed_task) if abort.HasField("failed_task") else None
    return RoundEvent(EventKind.ABORT, round_number, failed, abort.reason)


def cluster_info(view: Rendezvous) -> coordinator_pb2.ClusterInfo:
    """The ``Register`` reply for a rendezvous snapshot."""
    info = coordinator_pb2.ClusterInfo(
        round=view.round, missing=[t.to_proto() for t in view.missing]
    )
    if view.outcome is not None and view.outcome.kind is EventKind.ABORT:
        info.abort.CopyFrom(_abort_message(view.outcome))
    if view.cluster is not None:
        info.complete = True
        info.worker_addresses.extend(view.cluster.worker_addresses)
        info.ps_addresses.extend(view.cluster.ps_addresses)
        info.worker_dataset_lengths.extend(view.cluster.worker_dataset_lengths)
    return info


def cluster_from(info: coordinator_pb2.ClusterInfo) -> Cluster:
    """The cluster of a complete ``Register`` reply."""
    return Cluster(
        round=info.round,
        worker_addresses=tuple(info.worker_addresses),
        ps_addresses=tuple(info.ps_addresses),
        worker_dataset_lengths=tuple(info.worker_dataset_lengths),
    )


def abort_from(info: coordinator_pb2.ClusterInfo) -> RoundEvent | None:
    """The abort a ``Register`` reply carries, if any."""
    return _abort_event(info.round, info.abort) if info.HasField("abort") else None


def event_message(event: RoundEvent) -> coordinator_pb2.Event:
    """The ``Watch`` reply for a round's outcome."""
    if event.kind is EventKind.ABORT:
        return coordinator_pb2.Event(round=event.round, abort=_abort_message(event))
    return coordinator_pb2.Event(round=event.round, finish=coordinator_pb2.Finish())


def event_from(message: coordinator_pb2.Event) -> RoundEvent | None:
    """The outcome a ``Watch`` reply carries; ``None`` when the server's slice ended first."""
    kind = message.WhichOneof("kind")
    if kind is None:
        return None
    if kind == "abort":
        return _abort_event(message.round, message.abort)
    return RoundEvent(EventKind.FINISH, message.round)
