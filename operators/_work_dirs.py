"""Task work dirs on the subtask's disk: creation, free-space check, stale sweep, cleanup.

Runs where the Flink subtask runs. Each TF process gets a private dir
``<root>/akdl-<task>-<random>`` (root: ``workDirRoot``, else the system temp dir), holding an
owner file with the creating process's pid and start time. A dir whose owner has died (a driver
or TaskManager that was killed, so nobody cleaned up) is stale: the next task started under the
same root removes it.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile

from bridge.errors import AkdlError
from bridge.process import pid_exists
from bridge.work_dir import DATASET_FILE, OWNER_FILE

__all__ = [
    "MIN_FREE_BYTES",
    "WORK_DIR_PREFIX",
    "check_free_space",
    "create_work_dir",
    "remove_dataset",
    "sweep_stale",
]

WORK_DIR_PREFIX = "akdl-"
#: A task does not start under a root with less free space than this.
MIN_FREE_BYTES = 64 * 1024 * 1024
_log = logging.getLogger("akdl.workdir")


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux); empty where unknown.

    With the pid it names one process for good: a reused pid has another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            # The command name (field 2) may hold spaces; fields after its ')' are fixed.
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _owner_line(pid: int) -> str:
    return f"{socket.gethostname()} {pid} {_start_time(pid)}".rstrip()


def _owner_alive(line: str) -> bool:
    """Whether the process an owner line names still runs (on another host: assume it does)."""
    parts = line.split()
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return True
    pid = int(parts[1])
    if not pid_exists(pid):
        return False
    return len(parts) < 3 or _start_time(pid) in ("", parts[2])


def sweep_stale(root: str) -> list[str]:
    """Remove the work dirs under ``root`` whose owner process has died; returns their paths.

    Only dirs named like ours and holding an owner file are touched.
    """
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(root, name)
        if not name.startswith(WORK_DIR_PREFIX):
            continue
        try:
            with open(os.path.join(path, OWNER_FILE), encoding="utf-8") as f:
                owner = f.read().strip()
        except OSError:
            continue
        if not _owner_alive(owner):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        _log.info("removed %d stale work dir(s) under %s: %s", len(removed), root, removed)
    return removed


def check_free_space(root: str, operator: str, needed: int = MIN_FREE_BYTES) -> None:
    """Fail before spooling when ``root``'s filesystem has less than ``needed`` bytes free.

    Raises:
        AkdlError: too little space; names the dir, the free space and ``workDirRoot``.
    """
    free = shutil.disk_usage(root).free
    if free < needed:
        raise AkdlError(
            f"{operator}: the work dir root {root} has {free / 2**20:.1f} MiB free, less than "
            f"the {needed / 2**20:.0f} MiB a TF task needs to start; free space there or point "
            "workDirRoot at a larger disk"
        )


def create_work_dir(root: str, label: str, operator: str) -> str:
    """A new private work dir for task ``label``, after a stale sweep and a free-space check.

    Args:
        root: the parent dir (created if missing); empty for the system temp dir.
        label: the task's label, e.g. ``worker:0``.
        operator: the operator's name, for errors.

    Raises:
        AkdlError: the root cannot be created or has too little free space.
    """
    root = root or tempfile.gettempdir()
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:
        raise AkdlError(
            f"{operator}: cannot create the work dir root {root} (workDirRoot): {exc.strerror}"
        ) from exc
    sweep_stale(root)
    check_free_space(root, operator)
    work_dir = tempfile.mkdtemp(prefix=f"{WORK_DIR_PREFIX}{label.replace(':', '')}-", dir=root)
    with open(os.path.join(work_dir, OWNER_FILE), "w", encoding="utf-8") as f:
        f.write(_owner_line(os.getpid()) + "\n")
    return work_dir


def remove_dataset(work_dir: str) -> bool:
    """Delete the spooled shard of a work dir; returns whether there was one."""
    try:
        os.remove(os.path.join(work_dir, DATASET_FILE))
    except FileNotFoundError:
        return False
    return True
