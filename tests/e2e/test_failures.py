"""Failures users can trust: each case fails fast, says why, and leaves no process behind.

Every test here runs real jobs on the mini-cluster. The suite's autouse fixture also fails a
test that leaves a TF process of this session alive; the tests below check it themselves
within the bound the case promises.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import psutil
import pytest
from py4j.protocol import Py4JJavaError
from session_processes import driver_environ, session_runners

from bridge.errors import ParamError
from operators import (
    MemSourceBatchOp,
    MemSourceStreamOp,
    TensorFlowBatchOp,
    TensorFlowStreamOp,
    use_local_env,
)

pytestmark = pytest.mark.e2e

IDENTITY = """
    import tensorflow as tf

    SPEC = {"id": tf.io.FixedLenFeature([], tf.int64), "x": tf.io.FixedLenFeature([], tf.float32)}

    def main(task_config):
        for record in tf.data.TFRecordDataset(task_config.dataset_file):
            row = tf.io.parse_single_example(record, SPEC)
            task_config.output_writer.write_row({"id": int(row["id"]), "x": float(row["x"])})
"""


def script_op(script: str, output_schema: str, workers: int = 1, stream: bool = False, **params):
    op_class = TensorFlowStreamOp if stream else TensorFlowBatchOp
    return op_class(
        user_files=[script], main_script_file=os.path.basename(script),
        output_schema_str=output_schema, num_workers=workers, rendezvous_timeout_s=120.0,
        **params,
    )


def wait_for_no_runners(timeout_s: float) -> list[psutil.Process]:
    """This session's TF processes still alive after ``timeout_s`` (none, when all is well)."""
    deadline = time.monotonic() + timeout_s
    left = session_runners()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = session_runners()
    return left


def failure_text(info: pytest.ExceptionInfo) -> str:
    return str(info.value)


# -- 1. a main that hangs --


def test_a_hanging_main_fails_at_task_timeout_with_its_stack(local_env, write_script):
    script = write_script("hang.py", """
        import time

        def wait_forever():
            time.sleep(3600)

        def main(task_config):
            wait_forever()
    """)
    started = time.monotonic()
    with pytest.raises(Py4JJavaError) as info:
        MemSourceBatchOp([(1,)], "id long").link(
            script_op(script, "id long", task_timeout_s=20.0)).collect()
    elapsed = time.monotonic() - started
    text = failure_text(info)
    assert elapsed < 60, f"took {elapsed:.0f} s"
    assert "TensorFlowBatchOp chief:0 (subtask 0) did not finish within taskTimeoutS = 20 s" in text
    assert 'hang.py", line 5 in wait_forever' in text and 'hang.py", line 8 in main' in text
    assert wait_for_no_runners(15) == []


# -- 2. a worker killed by a signal while its peer waits --


def test_a_sigkilled_worker_fails_the_job_naming_it_and_the_signal(local_env, write_script):
    script = write_script("kill.py", """
        import os, signal, time
        import tensorflow as tf

        def main(task_config):
            if task_config.task_type == "chief":
                time.sleep(600)  # the peer that must not be left waiting
                return
            for i, _ in enumerate(tf.data.TFRecordDataset(task_config.dataset_file)):
                if i == 10:  # mid-shard
                    os.kill(os.getpid(), signal.SIGKILL)
    """)
    rows = [(i, float(i)) for i in range(2000)]
    started = time.monotonic()
    with pytest.raises(Py4JJavaError) as info:
        MemSourceBatchOp(rows, "id long, x double").link(
            script_op(script, "id long", workers=2)).collect()
    elapsed = time.monotonic() - started
    text = failure_text(info)
    assert elapsed < 60, f"took {elapsed:.0f} s"
    assert "TF process worker:0 (subtask 1) was killed by signal 9 (SIGKILL)" in text
    assert "possibly killed for memory (OOM)" in text
    assert wait_for_no_runners(15) == []


# -- 3. a pythonEnv that cannot run TF tasks --


def test_a_missing_python_env_fails_before_the_job(local_env, write_script):
    script = write_script("noop.py", "def main(task_config):\n    pass\n")
    started = time.monotonic()
    with pytest.raises(ParamError, match=r"'pythonEnv' names /nonexistent/python, which does not"):
        MemSourceBatchOp([(1,)], "id long").link(
            script_op(script, "id long", python_env="/nonexistent/python")).collect()
    assert time.monotonic() - started < 15


def test_a_python_env_without_akdl_fails_naming_it(local_env, write_script, tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'grpc'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    script = write_script("noop.py", "def main(task_config):\n    pass\n")
    started = time.monotonic()
    with pytest.raises(ParamError, match=r"'pythonEnv' = .*cannot run akdl's TF runner.*'grpc'"):
        MemSourceBatchOp([(1,)], "id long").link(
            script_op(script, "id long", python_env=str(fake))).collect()
    assert time.monotonic() - started < 15


# -- 4. the driver is killed while its job runs --

DRIVER = """
    import sys
    from operators import MemSourceBatchOp, TensorFlowBatchOp, use_local_env

    use_local_env(2)
    op = TensorFlowBatchOp(user_files=[sys.argv[1]], main_script_file="sleepy.py",
                           user_params={{"ready": sys.argv[2]}}, output_schema_str="id long",
                           num_workers=2, rendezvous_timeout_s=120.0)
    MemSourceBatchOp([(i,) for i in range(100)], "id long").link(op).collect()
"""

SLEEPY = """
    import os, time

    def main(task_config):
        ready = task_config.user_params["ready"]
        open(os.path.join(ready, f"{task_config.task_type}{task_config.task_index}"), "w").close()
        time.sleep(600)
"""


def test_killing_the_driver_ends_every_tf_process_of_its_job(write_script, tmp_path):
    ready = tmp_path / "ready"
    ready.mkdir()
    script = write_script("sleepy.py", SLEEPY)
    driver_file = write_script("driver.py", DRIVER.format())
    marker = uuid.uuid4().hex
    env = driver_environ(AKDL_TEST_DRIVER=marker)
    log_path = tmp_path / "driver.log"
    log = open(log_path, "wb")
    driver = subprocess.Popen([sys.executable, driver_file, script, str(ready)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    started_by_driver: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while len(os.listdir(ready)) < 2:
            assert driver.poll() is None, (
                f"the driver ended before its TF tasks started:\n{log_path.read_text()[-3000:]}")
            assert time.monotonic() < deadline, "the TF tasks never started"
            time.sleep(0.2)
        started_by_driver = psutil.Process(driver.pid).children(recursive=True)
        runners = [p for p in session_runners() if p.environ().get("AKDL_TEST_DRIVER") == marker]
        assert len(runners) == 2
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
        killed_at = time.monotonic()
        gone, alive = psutil.wait_procs(runners, timeout=15)
        assert alive == [], f"TF processes alive 15 s after the driver died: {alive}"
        assert time.monotonic() - killed_at < 15
    finally:
        log.close()
        for proc in [psutil.Process(driver.pid)] if driver.poll() is None else []:
            proc.kill()
        for proc in started_by_driver:  # the driver's JVM, if it outlived the driver
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


# -- 5. empty input --


COUNT_BATCH = """
    import tensorflow as tf

    def main(task_config):
        n = sum(1 for _ in tf.data.TFRecordDataset(task_config.dataset_file))
        task_config.output_writer.write_row({"task": task_config.task_type, "n": n,
                                             "length": task_config.dataset_length})
"""

COUNT_STREAM = """
    def main(task_config):
        n = sum(1 for _ in task_config.dataset_fn())
        task_config.output_writer.write_row({"task": task_config.task_type, "n": n,
                                             "length": -1})
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_an_empty_batch_input_gives_every_task_zero_rows(local_env, write_script, workers):
    script = write_script("count.py", COUNT_BATCH)
    empty = MemSourceBatchOp([(1,)], "id long").select("id").filter("id < 0")
    rows = empty.link(script_op(script, "task string, n long, length long", workers)).collect()
    assert sorted(tuple(r) for r in rows) == sorted(
        [("chief", 0, 0)] + [("worker", 0, 0)] * (workers - 1))


def test_an_empty_stream_gives_the_script_zero_rows_and_ends(local_env, write_script):
    script = write_script("count.py", COUNT_STREAM)
    empty = MemSourceStreamOp([(1,)], "id long").filter("id < 0")
    rows = empty.link(script_op(script, "task string, n long, length long", stream=True)) \
        .collect()
    assert [tuple(r) for r in rows] == [("chief", 0, -1)]


# -- 6. a very large value --


@pytest.mark.parametrize("data_path", ["rows", "columnar"])
def test_a_64_mib_string_round_trips_intact(local_env, write_script, data_path):
    script = write_script("echo.py", """
        import tensorflow as tf

        SPEC = {"id": tf.io.FixedLenFeature([], tf.int64),
                "s": tf.io.FixedLenFeature([], tf.string)}

        def main(task_config):
            for record in tf.data.TFRecordDataset(task_config.dataset_file):
                row = tf.io.parse_single_example(record, SPEC)
                task_config.output_writer.write_row(
                    {"id": int(row["id"]), "s": row["s"].numpy().decode()})
    """)
    big = "".join(chr(ord("a") + i % 26) for i in range(1024)) * (64 * 1024)
    assert len(big) == 64 * 2**20
    rows = MemSourceBatchOp([(1, big), (2, "small")], "id long, s string").link(
        script_op(script, "id long, s string", data_path=data_path)).collect()
    by_id = {r[0]: r[1] for r in rows}
    assert sorted(by_id) == [1, 2]
    assert len(by_id[1]) == len(big) and by_id[1] == big and by_id[2] == "small"


# -- 7. a Flink restart --

FAILS_ONCE = """
    import os
    import tensorflow as tf

    SPEC = {"id": tf.io.FixedLenFeature([], tf.int64), "x": tf.io.FixedLenFeature([], tf.float32)}

    def main(task_config):
        marker = os.path.join(task_config.user_params["dir"], task_config.task_type)
        if task_config.task_type == task_config.user_params["fails"] and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("the first attempt fails")
        for record in tf.data.TFRecordDataset(task_config.dataset_file):
            row = tf.io.parse_single_example(record, SPEC)
            task_config.output_writer.write_row({"id": int(row["id"]), "x": float(row["x"])})
"""

RESTARTS = {
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": "4",
    "restart-strategy.fixed-delay.delay": "200 ms",
}


@pytest.mark.parametrize(("workers", "fails"), [(1, "chief"), (2, "worker")])
def test_a_restarted_stage_gives_exactly_the_output_of_a_clean_run(
    write_script, tmp_path, workers, fails
):
    script = write_script("fails_once.py", FAILS_ONCE)
    rows = [(i, i / 8) for i in range(3000)]
    use_local_env(2, RESTARTS)
    try:
        started = time.monotonic()
        out = MemSourceBatchOp(rows, "id long, x double").link(script_op(
            script, "id long, x double", workers,
            user_params={"dir": str(tmp_path), "fails": fails})).collect()
        elapsed = time.monotonic() - started
    finally:
        use_local_env(2)
    assert os.path.exists(tmp_path / fails), "the first attempt did not fail"
    assert sorted((r[0], r[1]) for r in out) == rows
    assert elapsed < 180


def test_a_restarted_stream_stage_does_not_hang(write_script, tmp_path):
    script = write_script("fails_once.py", """
        import os
        import tensorflow as tf

        SPEC = {"id": tf.io.FixedLenFeature([], tf.int64)}

        def main(task_config):
            marker = os.path.join(task_config.user_params["dir"], "failed")
            for i, record in enumerate(task_config.dataset_fn()):
                if i == 5 and not os.path.exists(marker):
                    open(marker, "w").close()
                    raise RuntimeError("the first attempt fails")
                row = tf.io.parse_single_example(record, SPEC)
                task_config.output_writer.write_row({"id": int(row["id"])})
    """)
    # collect() on a stream survives a restart only with checkpoints (Flink's collect sink
    # otherwise fails the client with "Job restarted").
    use_local_env(2, {**RESTARTS, "execution.checkpointing.interval": "500 ms"})
    try:
        started = time.monotonic()
        out = MemSourceStreamOp([(i,) for i in range(50)], "id long").link(script_op(
            script, "id long", 1, stream=True, user_params={"dir": str(tmp_path)})).collect()
        elapsed = time.monotonic() - started
    finally:
        use_local_env(2)
    assert os.path.exists(tmp_path / "failed")
    # Without checkpoints the source replays from its start: every row arrives at least once.
    assert {r[0] for r in out} == set(range(50))
    assert elapsed < 180


# -- 8. a spool error --


def test_a_spool_error_removes_the_spooled_data_and_names_the_work_dir(
    local_env, write_script, tmp_path
):
    # A real write failure: the TF process may not write files over 1 MiB (EFBIG).
    limited = tmp_path / "python"
    limited.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        trap '' XFSZ
        ulimit -f 1024
        exec {sys.executable} "$@"
    """))
    limited.chmod(0o755)
    root = tmp_path / "work"
    script = write_script("count.py", COUNT_BATCH)
    rows = [(i, "x" * 1000) for i in range(5000)]  # about 5 MB spooled
    started = time.monotonic()
    with pytest.raises(Py4JJavaError) as info:
        MemSourceBatchOp(rows, "id long, s string").link(script_op(
            script, "task string, n long, length long", python_env=str(limited),
            work_dir_root=str(root))).collect()
    text = failure_text(info)
    assert time.monotonic() - started < 60
    work_dirs = [d for d in os.listdir(root) if d.startswith("akdl-")]
    assert len(work_dirs) == 1
    work_dir = root / work_dirs[0]
    assert f"could not spool the input into the work dir {work_dir}" in text
    assert "File too large" in text and "the partial dataset.tfrecords was removed" in text
    assert "dataset.tfrecords" not in os.listdir(work_dir)  # the rest is kept for diagnosis
    assert "task_spec.pb" in os.listdir(work_dir)


# -- cleanup and validation --


def test_a_failed_task_keeps_its_work_dir_without_the_spooled_input(
    local_env, write_script, tmp_path
):
    script = write_script("boom.py", "def main(task_config):\n    raise ValueError('boom')\n")
    root = tmp_path / "work"
    with pytest.raises(Py4JJavaError, match="boom"):
        MemSourceBatchOp([(i,) for i in range(100)], "id long").link(
            script_op(script, "id long", work_dir_root=str(root))).collect()
    (work_dir,) = os.listdir(root)
    assert sorted(os.listdir(root / work_dir)) == ["akdl_owner", "boom.py", "task_spec.pb"]


def test_keep_work_dir_keeps_the_spooled_input_of_a_successful_task(
    local_env, write_script, tmp_path
):
    script = write_script("count.py", COUNT_BATCH)
    root = tmp_path / "work"
    rows = MemSourceBatchOp([(i,) for i in range(100)], "id long").link(script_op(
        script, "task string, n long, length long", work_dir_root=str(root),
        keep_work_dir=True)).collect()
    assert [tuple(r) for r in rows] == [("chief", 100, 100)]
    (work_dir,) = os.listdir(root)
    assert os.path.getsize(root / work_dir / "dataset.tfrecords") > 0


def test_stale_work_dirs_of_dead_owners_are_swept_when_a_task_starts(
    local_env, write_script, tmp_path
):
    import socket

    root = tmp_path / "work"
    stale = root / "akdl-chief0-old"
    stale.mkdir(parents=True)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (stale / "akdl_owner").write_text(f"{socket.gethostname()} {child.pid} 1\n")
    (stale / "dataset.tfrecords").write_bytes(b"x" * 1000)
    script = write_script("count.py", COUNT_BATCH)
    MemSourceBatchOp([(1,)], "id long").link(script_op(
        script, "task string, n long, length long", work_dir_root=str(root))).collect()
    assert not stale.exists()


def test_a_selected_column_that_does_not_exist_is_a_clear_error(local_env, write_script):
    script = write_script("count.py", COUNT_BATCH)
    with pytest.raises(ParamError, match=r"TensorFlowBatchOp: parameter 'selectedCols' names "
                                         r"\['nope'\], not columns of the input; its columns "
                                         r"are \['id', 'x'\]"):
        MemSourceBatchOp([(1, 2.0)], "id long, x double").link(script_op(
            script, "task string, n long, length long", selected_cols=["id", "nope"])).collect()


@pytest.mark.parametrize("name", ["task_spec.pb", "dataset.tfrecords", "saved_model"])
def test_a_user_file_named_like_our_own_files_is_refused(local_env, tmp_path, write_script, name):
    script = write_script("main.py", "def main(task_config):\n    pass\n")
    clash = tmp_path / name
    clash.write_text("")
    with pytest.raises(ParamError, match=f"'userFiles' holds \\['{name}'\\], a name akdl uses"):
        MemSourceBatchOp([(1,)], "id long").link(TensorFlowBatchOp(
            user_files=[script, str(clash)], main_script_file="main.py",
            output_schema_str="id long")).collect()
