"""A local standalone Flink cluster started from the installed ``apache-flink`` wheel.

The wheel is a Flink distribution (``bin/``, ``conf/``, ``lib/``, ``opt/``). This tool starts a
JobManager and N TaskManagers from it with their own configuration, logs and pid files under
one directory of the project (``.flink-cluster/`` by default, git-ignored), never in
site-packages. ``bash scripts/flink-cluster.sh`` is its command line:

    start [--taskmanagers N] [--slots S] [--rest-port P] [--netns]
                                                           prints http://localhost:PORT
    status                                                 prints it again, or exits 1
    stop                                                   leaves no process of the cluster
    flink ARGS...                                          the wheel's bin/flink, configured
                                                           for this cluster (run, cancel, list)
    env                                                    FLINK_CONF_DIR=... for a shell

The TaskManagers' Python workers (process mode) and the programs ``flink run`` starts use this
project's interpreter: ``python.executable`` and ``python.client.executable`` point at it, and
its ``bin`` dir leads the ``PATH`` of every process the cluster starts.

``start --netns`` simulates several hosts (root only): each TaskManager runs in its own network
namespace with its own address (`scripts/netns_hosts.py`), the JobManager and clients in the
root namespace. Its TaskManagers get ``AKDL_TF_HOST`` (their address), and ``flink run``
through this tool gets ``AKDL_COORDINATOR_BIND=0.0.0.0`` and ``AKDL_COORDINATOR_HOST`` (the
bridge's address), as several real hosts would need.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bridge.process import pid_exists  # noqa: E402
from scripts.netns_hosts import NetnsHosts, netns_problem  # noqa: E402

__all__ = ["ClusterDir", "main"]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / ".flink-cluster"
_START_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 30.0
# Set in a process that ran a PyFlink job in loopback mode (its worker pool merges the worker's
# environment into os.environ). Inherited by a TaskManager, the first would make it hand its
# Python workers to that process instead of running them; the second stops a client's gateway.
_NOT_INHERITED = ("PYTHON_LOOPBACK_SERVER_ADDRESS", "PYFLINK_GATEWAY_DISABLED")


def flink_home() -> Path:
    """The Flink distribution inside the installed ``apache-flink`` wheel."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pids: list[int]) -> list[int]:
    """Every live process below ``pids`` (Python workers, TF processes), from ``ps``."""
    listing = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True,
                             check=True).stdout
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        pid, ppid = (int(v) for v in line.split())
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    stack = list(pids)
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class ClusterDir:
    """The cluster's directory: ``conf/``, ``log/``, ``pid/`` and ``cluster.json``.

    Args:
        root: the directory (created on start).
    """

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "conf"
        self.log = root / "log"
        self.pid = root / "pid"
        self.state_file = root / "cluster.json"

    def env(self) -> dict[str, str]:
        """The environment of every Flink script run for this cluster."""
        venv_bin = str(Path(sys.executable).parent)
        inherited = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        return {
            **inherited,
            "FLINK_CONF_DIR": str(self.conf),
            "FLINK_LOG_DIR": str(self.log),
            "FLINK_PID_DIR": str(self.pid),
            "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        }

    def client_env(self) -> dict[str, str]:
        """The environment of a client (``flink run``): with simulated hosts, where the
        coordinator binds and how the TaskManagers reach it."""
        env = self.env()
        hosts = self.netns_hosts()
        if hosts is not None:
            env.update(AKDL_COORDINATOR_BIND="0.0.0.0",
                       AKDL_COORDINATOR_HOST=hosts.driver_address)
        return env

    def netns_hosts(self) -> NetnsHosts | None:
        """The simulated hosts, when the cluster was started with ``--netns``."""
        return NetnsHosts(str(self.root)) if self.state().get("netns") else None

    def state(self) -> dict:
        """What ``start`` recorded (ports, counts); empty if never started."""
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def pids(self) -> list[int]:
        """The JobManager's and TaskManagers' pids from Flink's pid files."""
        found = []
        for pid_file in self.pid.glob("*.pid") if self.pid.is_dir() else []:
            found += [int(line) for line in pid_file.read_text().split() if line.isdigit()]
        return found

    def rest_url(self) -> str:
        """``http://localhost:PORT`` of the JobManager's REST API."""
        return f"http://localhost:{self.state()['rest_port']}"

    def overview(self, timeout_s: float = 2.0) -> dict | None:
        """The cluster's ``/overview`` (task managers, slots, jobs), or None when unreachable."""
        if not self.state():
            return None
        try:
            with urllib.request.urlopen(self.rest_url() + "/overview", timeout=timeout_s) as reply:
                return json.load(reply)
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def write_config(self, slots: int, rest_port: int, taskmanagers: int,
                     driver_address: str | None = None) -> None:
        """The wheel's configuration, with this cluster's ports, slots, dirs and Python."""
        home = flink_home()
        if self.conf.exists():
            shutil.rmtree(self.conf)
        shutil.copytree(home / "conf", self.conf)
        config = yaml.safe_load((home / "conf" / "config.yaml").read_text()) or {}
        python = sys.executable
        flat = {
            "jobmanager.rpc.address": "localhost",
            "jobmanager.rpc.port": _free_port(),
            "rest.address": "localhost",
            "rest.port": rest_port,
            "rest.bind-port": str(rest_port),
            "blob.server.port": str(_free_port()),
            "taskmanager.numberOfTaskSlots": slots,
            "taskmanager.memory.process.size": "1728m",
            # Python workers talk to their TaskManager over Beam's gRPC, whose netty buffers
            # are direct memory. With the default limit (256 MB), a TaskManager ran out of it
            # during the fifth job of one test run (netty's OutOfMemoryError, after Beam's
            # "Error cleaning up servers" at each job's end), and from then on its metric
            # service failed, so no gauge reached the REST API.
            "taskmanager.memory.task.off-heap.size": "256m",
            "python.executable": python,
            "python.client.executable": python,
            "env.log.dir": str(self.log),
            "env.pid.dir": str(self.pid),
        }
        if driver_address is not None:  # TaskManagers on other (simulated) hosts
            flat.update({
                "jobmanager.rpc.address": driver_address,
                "jobmanager.bind-host": "0.0.0.0",
                "rest.bind-address": "0.0.0.0",
                "taskmanager.bind-host": "0.0.0.0",
            })
        for key, value in flat.items():
            _set_nested(config, key, value)
        (self.conf / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.state_file.write_text(json.dumps(
            {"rest_port": rest_port, "slots": slots, "taskmanagers": taskmanagers,
             "python": python, "netns": driver_address is not None}))

    def flink_script(self, name: str, *args: str, prefix: tuple[str, ...] = ()) -> None:
        """Run one of the wheel's ``bin/`` scripts for this cluster (after ``prefix``)."""
        subprocess.run([*prefix, "bash", str(flink_home() / "bin" / name), *args],
                       env=self.env(), check=True, stdout=subprocess.DEVNULL)


def _set_nested(config: dict, dotted: str, value) -> None:
    """Set ``a.b.c`` in a nested YAML mapping, dropping a flat duplicate of the key."""
    config.pop(dotted, None)
    node = config
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def start(cluster: ClusterDir, taskmanagers: int, slots: int, rest_port: int,
          netns: bool = False) -> int:
    """Start the JobManager and the TaskManagers; wait until every slot is registered.

    With ``netns``, each TaskManager runs on a simulated host of its own.
    """
    if cluster.pids() and any(pid_exists(p) for p in cluster.pids()):
        print(f"a cluster already runs from {cluster.root}; stop it first", file=sys.stderr)
        return 1
    if netns and (problem := netns_problem()) is not None:
        print(f"cannot start with --netns: {problem}", file=sys.stderr)
        return 1
    for directory in (cluster.log, cluster.pid):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    hosts = NetnsHosts(str(cluster.root)) if netns else None
    cluster.write_config(slots, rest_port or _free_port(), taskmanagers,
                         hosts.driver_address if hosts else None)
    cluster.flink_script("jobmanager.sh", "start")
    if hosts is None:
        for _ in range(taskmanagers):
            cluster.flink_script("taskmanager.sh", "start")
    else:
        for host in hosts.create(taskmanagers):
            cluster.flink_script(
                "taskmanager.sh", "start", f"-Dtaskmanager.host={host.address}",
                prefix=(*host.command(["env"]), f"AKDL_TF_HOST={host.address}"))
            print(f"TaskManager on simulated host {host.namespace} ({host.address})")
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        overview = cluster.overview()
        if overview and overview.get("slots-total", 0) >= taskmanagers * slots:
            break
        if time.monotonic() > deadline:
            print(f"the cluster did not register {taskmanagers} x {slots} slots within "
                  f"{_START_TIMEOUT_S:g} s; see {cluster.log}", file=sys.stderr)
            stop(cluster)
            return 1
        time.sleep(0.5)
    print(f"Flink cluster: {taskmanagers} TaskManager(s) x {slots} slot(s) at {cluster.rest_url()}")
    return 0


def status(cluster: ClusterDir) -> int:
    """Print the REST address and what runs; exit status 1 when the cluster is down."""
    overview = cluster.overview()
    if overview is None:
        print(f"no cluster runs from {cluster.root}")
        return 1
    print(f"Flink cluster at {cluster.rest_url()}: {overview['taskmanagers']} TaskManager(s), "
          f"{overview['slots-available']}/{overview['slots-total']} slots free, "
          f"{overview['jobs-running']} job(s) running")
    return 0


def stop(cluster: ClusterDir) -> int:
    """Stop the cluster and everything it started; exit status 1 if something survived."""
    roots = [p for p in cluster.pids() if pid_exists(p)]
    tree = roots + _descendants(roots) if roots else []
    if cluster.conf.exists():
        for script in ("taskmanager.sh", "jobmanager.sh"):
            subprocess.run(["bash", str(flink_home() / "bin" / script), "stop-all"],
                           env=cluster.env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while any(pid_exists(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [p for p in tree if pid_exists(p)]
    for pid in survivors:  # only processes of this cluster's own tree
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    hosts = cluster.netns_hosts()
    if hosts is not None:
        hosts.destroy(cluster.state().get("taskmanagers", 0))
    if survivors:
        print(f"killed {len(survivors)} process(es) that outlived the stop: {survivors}",
              file=sys.stderr)
    print(f"Flink cluster in {cluster.root} stopped")
    return 0


def run_flink(cluster: ClusterDir, args: list[str]) -> int:
    """The wheel's ``bin/flink`` with this cluster's configuration (``-m`` is added for run)."""
    if not cluster.state():
        print(f"no cluster was started from {cluster.root}", file=sys.stderr)
        return 1
    argv = ["bash", str(flink_home() / "bin" / "flink"), *args]
    if args and args[0] in ("run", "cancel", "list", "info", "stop") and "-m" not in args:
        argv[3:3] = ["-m", f"localhost:{cluster.state()['rest_port']}"]
    return subprocess.run(argv, env=cluster.client_env(), check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="scripts/flink-cluster.sh", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get(
        "AKDL_FLINK_CLUSTER_DIR", DEFAULT_DIR)), help="the cluster's directory")
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start")
    start_parser.add_argument("--taskmanagers", type=int, default=1)
    start_parser.add_argument("--slots", type=int, default=2)
    start_parser.add_argument("--rest-port", type=int, default=8081,
                              help="0 picks a free port")
    start_parser.add_argument("--netns", action="store_true",
                              help="each TaskManager on a simulated host (root only)")
    commands.add_parser("status")
    commands.add_parser("stop")
    commands.add_parser("env")
    flink_parser = commands.add_parser("flink")
    flink_parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cluster = ClusterDir(args.dir.resolve())
    if args.command == "start":
        return start(cluster, args.taskmanagers, args.slots, args.rest_port, args.netns)
    if args.command == "status":
        return status(cluster)
    if args.command == "stop":
        return stop(cluster)
    if args.command == "env":
        env = cluster.client_env()
        for key in ("FLINK_CONF_DIR", "FLINK_LOG_DIR", "FLINK_PID_DIR", "AKDL_COORDINATOR_BIND",
                    "AKDL_COORDINATOR_HOST"):
            if key in env:
                print(f"export {key}={env[key]}")
        return 0
    return run_flink(cluster, args.args)


if __name__ == "__main__":
    raise SystemExit(main())
