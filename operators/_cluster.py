"""What a running Flink cluster says about itself, through its JobManager's REST API.

Runs in the Flink driver. Used when the job goes to a real cluster (``flink run`` or
``use_remote_env``), where the client's own configuration does not describe the cluster.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

__all__ = ["ClusterSlots", "cluster_slots", "rest_url"]

_REST_TIMEOUT_S = 5.0
_log = logging.getLogger("akdl.operators")


class ClusterSlots:
    """The task slots of a cluster at one moment.

    Attributes:
        url: the REST endpoint asked.
        total: every slot of the registered TaskManagers.
        available: the slots no job holds.
    """

    def __init__(self, url: str, total: int, available: int):
        self.url = url
        self.total = total
        self.available = available


def rest_url(j_config: Any) -> str | None:
    """``http://host:port`` of the JobManager's REST API from a job's Java configuration."""
    host = j_config.getString("rest.address", None) or j_config.getString(
        "jobmanager.rpc.address", None)
    port = j_config.getString("rest.port", None) or "8081"
    if not host:
        return None
    return f"http://{host}:{port}"


def cluster_slots(url: str) -> ClusterSlots | None:
    """The cluster's slots from ``/overview``; None (and a warning) when it does not answer."""
    try:
        with urllib.request.urlopen(url + "/overview", timeout=_REST_TIMEOUT_S) as reply:
            overview = json.load(reply)
        return ClusterSlots(url, int(overview["slots-total"]), int(overview["slots-available"]))
    except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
        _log.warning("could not read the cluster's slots from %s/overview (%s); the slot "
                     "check is skipped", url, exc)
        return None
