"""Simulated hosts: Linux network namespaces joined by a bridge (needs root and ``ip``).

Each simulated host is a namespace with its own loopback and one address on a private /24;
the bridge in the root namespace holds the subnet's first address, which is how the
"driver host" (the root namespace: the JobManager, the client, its coordinator) is reached.
Processes share the file system and pids, but not the network: whatever assumes that loopback
reaches another host breaks, as it would on separate machines.

`scripts/flink_cluster.py start --netns` runs each TaskManager in one of these.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["NetnsHosts", "SimulatedHost", "netns_problem"]


@dataclass(frozen=True)
class SimulatedHost:
    """One simulated host: its namespace and its address."""

    namespace: str
    address: str

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def netns_problem() -> str | None:
    """Why namespaces cannot be made here, or ``None`` when they can."""
    if os.geteuid() != 0:
        return "simulating hosts needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "simulating hosts needs the 'ip' command (iproute2)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"'ip netns' does not work here: {probe.stderr.strip()}"
    return None


class NetnsHosts:
    """The namespaces, links and bridge of one cluster directory's simulated hosts.

    Args:
        key: a string unique to the cluster (its directory); names derive from it, so a
            later ``stop`` finds what ``start`` made.
    """

    def __init__(self, key: str):
        digest = hashlib.sha1(key.encode()).hexdigest()
        tag = digest[:5]
        self.bridge = f"akbr{tag}"  # interface names have at most 15 characters
        self._prefix = tag
        self.subnet = f"10.{200 + int(digest[5:7], 16) % 50}.{int(digest[7:9], 16)}"
        self.driver_address = f"{self.subnet}.1"

    def host(self, index: int) -> SimulatedHost:
        """Simulated host ``index`` (0-based)."""
        return SimulatedHost(f"akdl-{self._prefix}-{index}", f"{self.subnet}.{index + 2}")

    def _link(self, index: int) -> str:
        return f"akv{self._prefix}{index}"

    def create(self, count: int) -> list[SimulatedHost]:
        """Make ``count`` hosts and the bridge (removing leftovers of an earlier run first).

        Raises:
            subprocess.CalledProcessError: an ``ip`` command failed.
        """
        self.destroy(count)
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.driver_address}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        hosts = []
        for index in range(count):
            host, link = self.host(index), self._link(index)
            _ip("netns", "add", host.namespace)
            _ip("link", "add", link, "type", "veth", "peer", "name", f"{link}p")
            _ip("link", "set", f"{link}p", "netns", host.namespace)
            _ip("link", "set", link, "master", self.bridge)
            _ip("link", "set", link, "up")
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", f"{link}p")
            _ip("-n", host.namespace, "link", "set", f"{link}p", "up")
            _ip("-n", host.namespace, "link", "set", "lo", "up")
            _ip("-n", host.namespace, "route", "add", "default", "via", self.driver_address)
            hosts.append(host)
        return hosts

    def destroy(self, count: int) -> None:
        """Remove the hosts and the bridge; what does not exist is skipped."""
        for index in range(count):
            _ip("netns", "del", self.host(index).namespace, check=False)
            _ip("link", "del", self._link(index), check=False)
        _ip("link", "del", self.bridge, check=False)


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, stdout=subprocess.DEVNULL,
                   stderr=None if check else subprocess.DEVNULL)
