"""TaskSession with a real TF child process (``python -m akdl.runner``); no Flink.

Each test spawns one TF process, which imports TensorFlow: a few seconds each. The operators
package is imported inside the fixture, since its ``__init__`` loads PyFlink.
"""

import os
import shutil
import sys
import textwrap

import psutil
import pytest

from bridge.errors import TaskFailedError, TaskProcessExitedError
from bridge.protos import task_spec_pb2
from bridge.task_ref import TaskRef

DOUBLE_AND_SHOUT = """
    import tensorflow as tf

    SPEC = {"a": tf.io.FixedLenFeature([], tf.int64), "b": tf.io.FixedLenFeature([], tf.string)}

    def main(task_config):
        dataset = tf.data.TFRecordDataset(task_config.dataset_file).batch(512)
        count = 0
        for batch in dataset.map(lambda records: tf.io.parse_example(records, SPEC)):
            for a, b in zip(batch["a"].numpy(), batch["b"].numpy()):
                task_config.output_writer.write_row({"a": int(a) * 10, "s": b.decode() + "!"})
                count += 1
        if count != task_config.dataset_length:
            raise RuntimeError(f"read {count} of {task_config.dataset_length} rows")
"""


def is_gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def start_session(tmp_path):
    """Writes ``job.py`` with the given code and starts a TaskSession on it."""
    from operators._jobs import StageHandle
    from operators._stage_plan import StagePlan
    from operators._task_session import TaskSession

    sessions = []

    def start(code):
        spec = task_spec_pb2.TaskSpec(
            kind=task_spec_pb2.BATCH,
            operator_name="TestOp",
            input_schema="a BIGINT, b STRING",
            output_schema="a BIGINT, s STRING",
            num_workers=1,
            num_ps=0,
            main_script="job.py",
            user_params_json="{}",
            rpc_timeout_s=60.0,
        )
        plan = StagePlan(
            stage=StageHandle("TestOp-1", 1, 0),
            spec=spec,
            user_files=(("job.py", textwrap.dedent(code).encode()),),
            python_executable=sys.executable,
            grace_s=2.0,
            work_dir_root=str(tmp_path / "work"),
        )
        session = TaskSession(plan, TaskRef.of_subtask(0, 1))
        sessions.append(session)
        session.start()
        return session

    yield start
    for session in sessions:
        session.close()
        if session.work_dir:
            shutil.rmtree(session.work_dir, ignore_errors=True)


def feed_rows(session, n):
    for i in range(n):
        session.feed([i, f"r{i}"])


def test_rows_go_through_the_script_and_everything_is_cleaned_up(start_session):
    session = start_session(DOUBLE_AND_SHOUT)
    assert session.label == "chief:0"
    assert os.path.isfile(os.path.join(session.work_dir, "job.py"))
    feed_rows(session, 2500)
    rows = session.finish(timeout_s=120) + session.take_output()
    assert [list(r) for r in rows] == [[i * 10, f"r{i}!"] for i in range(2500)]
    pid, work_dir = session._process.pid, session.work_dir
    session.close()
    assert is_gone(pid)
    assert not os.path.exists(work_dir)
    assert not session.failed


def test_closing_an_unfinished_session_stops_it_at_once_and_removes_its_work_dir(start_session):
    # A cancelled stage: close() comes before end of input. Nothing failed, so nothing is kept.
    session = start_session(DOUBLE_AND_SHOUT)
    feed_rows(session, 10)
    pid, work_dir = session._process.pid, session.work_dir
    session.close()
    assert is_gone(pid)
    assert not os.path.exists(work_dir)
    assert not session.failed


def test_process_exit_without_result_names_task_and_code(start_session):
    session = start_session("""
        import os

        def main(task_config):
            print("about to exit", flush=True)
            os._exit(3)
    """)
    feed_rows(session, 10)
    with pytest.raises(TaskProcessExitedError) as info:
        session.finish(timeout_s=120)
    err = info.value
    assert err.returncode == 3
    assert err.task == "chief:0 (subtask 0)"
    assert "TestOp TF process chief:0 (subtask 0) exited with code 3" in str(err)
    assert "[chief:0] about to exit" in err.last_lines
    assert session.failed


def test_user_error_carries_message_and_traceback_and_keeps_work_dir(start_session):
    session = start_session("""
        def main(task_config):
            raise ValueError("boom")
    """)
    feed_rows(session, 10)
    with pytest.raises(TaskFailedError) as info:
        session.finish(timeout_s=120)
    err = info.value
    assert (err.task, err.exception_type, err.remote_message) == ("chief:0", "ValueError", "boom")
    assert 'raise ValueError("boom")' in err.remote_traceback
    assert "job.py" in err.remote_traceback
    assert "TestOp TF process chief:0 failed with ValueError: boom" in str(err)
    pid = session._process.pid
    session.close()
    assert is_gone(pid)
    # The work dir is kept to debug, without the spooled input that could fill the disk.
    assert os.path.isfile(os.path.join(session.work_dir, "task_spec.pb"))
    assert not os.path.exists(os.path.join(session.work_dir, "dataset.tfrecords"))


def test_script_without_main_fails_naming_main(start_session):
    session = start_session("""
        def run(task_config):
            pass
    """)
    with pytest.raises(TaskFailedError) as info:
        session.finish(timeout_s=120)
    assert info.value.exception_type == "UserScriptError"
    assert "'main(task_config)'" in info.value.remote_message
