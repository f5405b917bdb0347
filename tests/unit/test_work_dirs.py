"""Work dirs: the stale sweep, the free-space check and the dataset cleanup."""

import os
import subprocess
import sys

import pytest

from bridge.errors import AkdlError
from bridge.work_dir import DATASET_FILE, OWNER_FILE
from operators._work_dirs import (
    check_free_space,
    create_work_dir,
    remove_dataset,
    sweep_stale,
)


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_work_dir_names_its_task_and_its_live_owner(tmp_path):
    work_dir = create_work_dir(str(tmp_path), "worker:1", "Op")
    assert os.path.basename(work_dir).startswith("akdl-worker1-")
    owner = open(os.path.join(work_dir, OWNER_FILE)).read().split()
    assert owner[1] == str(os.getpid())
    assert sweep_stale(str(tmp_path)) == []  # its owner (this process) is alive
    assert os.path.isdir(work_dir)


def test_the_sweep_removes_dirs_of_dead_owners_and_nothing_else(tmp_path):
    import socket

    stale = tmp_path / "akdl-chief0-stale"
    stale.mkdir()
    (stale / OWNER_FILE).write_text(f"{socket.gethostname()} {dead_pid()} 1\n")
    (stale / DATASET_FILE).write_bytes(b"x" * 100)
    reused_pid = tmp_path / "akdl-chief0-reused"  # a live pid, but another start time
    reused_pid.mkdir()
    (reused_pid / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()} 1\n")
    other_host = tmp_path / "akdl-chief0-remote"
    other_host.mkdir()
    (other_host / OWNER_FILE).write_text(f"another-host {dead_pid()} 1\n")
    no_owner = tmp_path / "akdl-chief0-unowned"
    no_owner.mkdir()
    not_ours = tmp_path / "something-else"
    not_ours.mkdir()
    (not_ours / OWNER_FILE).write_text(f"{socket.gethostname()} {dead_pid()} 1\n")

    removed = sweep_stale(str(tmp_path))

    assert sorted(removed) == sorted([str(stale), str(reused_pid)])
    assert other_host.is_dir() and no_owner.is_dir() and not_ours.is_dir()


def test_too_little_free_space_is_refused_with_the_dir_and_parameter(tmp_path):
    with pytest.raises(AkdlError, match=r"work dir root .* MiB free.*workDirRoot"):
        check_free_space(str(tmp_path), "TensorFlowBatchOp", needed=2**62)


def test_an_uncreatable_root_names_workdirroot(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AkdlError, match="cannot create the work dir root .*workDirRoot"):
        create_work_dir(str(blocker / "sub"), "chief:0", "Op")


def test_remove_dataset_deletes_only_the_spooled_shard(tmp_path):
    (tmp_path / DATASET_FILE).write_bytes(b"rows")
    (tmp_path / "main.py").write_text("")
    assert remove_dataset(str(tmp_path)) is True
    assert remove_dataset(str(tmp_path)) is False
    assert sorted(os.listdir(tmp_path)) == ["main.py"]
