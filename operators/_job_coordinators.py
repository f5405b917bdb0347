"""The coordinators of the TF stages built by this driver (runs in the Flink driver).

One coordinator per TF stage, started when the stage is added to the job graph. It serves every
execution of that graph (each is a round) and lives as long as the driver process; all are
closed when the interpreter exits.
"""

from __future__ import annotations

import atexit

from bridge.coordinator import CoordinatorServer

__all__ = ["cancel_running_rounds", "start_coordinator"]

_servers: list[CoordinatorServer] = []


def start_coordinator(num_workers: int, num_ps: int) -> CoordinatorServer:
    """Start a coordinator for a stage of ``num_workers`` workers and ``num_ps`` PS."""
    if not _servers:
        atexit.register(_close_all)
    server = CoordinatorServer(num_workers, num_ps)
    _servers.append(server)
    return server


def cancel_running_rounds(reason: str) -> None:
    """End the TF processes of every running stage of this driver (its job was cancelled).

    Flink does not always call a Python function's ``close`` when a job is cancelled, so the
    driver tells the TF processes itself, through their coordinators.
    """
    for server in _servers:
        server.cancel(reason)


def _close_all() -> None:
    for server in _servers:
        server.close()
    _servers.clear()
