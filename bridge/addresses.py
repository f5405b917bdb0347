"""Which host names akdl's servers bind and advertise, from the environment.

On one machine (the mini-cluster, or a standalone cluster on one host) everything talks over
loopback, the default. Across hosts, set in the environment of the driver and of every
TaskManager (Flink passes its environment on to the Python workers and so to TF processes):

* ``AKDL_COORDINATOR_BIND``: the interface the driver's coordinator binds (``0.0.0.0`` for all);
* ``AKDL_COORDINATOR_HOST``: the host name TF processes dial to reach it (the driver's name or
  address as the TaskManagers see it); defaults to the bind address, or this host's name for a
  wildcard bind;
* ``AKDL_TF_HOST``: the host name a TF process advertises to its peers for ``TF_CONFIG`` (its
  own host's name or address as the other TaskManagers see it), and the interface its TF server
  port is probed on.
"""

from __future__ import annotations

import os

__all__ = [
    "COORDINATOR_BIND_ENV",
    "COORDINATOR_HOST_ENV",
    "LOOPBACK",
    "TF_HOST_ENV",
    "coordinator_bind_host",
    "coordinator_advertised_host",
    "tf_advertised_host",
]

LOOPBACK = "127.0.0.1"
COORDINATOR_BIND_ENV = "AKDL_COORDINATOR_BIND"
COORDINATOR_HOST_ENV = "AKDL_COORDINATOR_HOST"
TF_HOST_ENV = "AKDL_TF_HOST"


def coordinator_bind_host() -> str:
    """The interface the coordinator binds: ``AKDL_COORDINATOR_BIND``, or loopback."""
    return os.environ.get(COORDINATOR_BIND_ENV) or LOOPBACK


def coordinator_advertised_host() -> str | None:
    """The host TF processes dial: ``AKDL_COORDINATOR_HOST``, or None (derived from the bind)."""
    return os.environ.get(COORDINATOR_HOST_ENV) or None


def tf_advertised_host() -> str:
    """The host a TF process advertises for ``TF_CONFIG``: ``AKDL_TF_HOST``, or loopback."""
    return os.environ.get(TF_HOST_ENV) or LOOPBACK
