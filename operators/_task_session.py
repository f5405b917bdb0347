"""One TF process as seen from its Flink subtask (runs in the Flink Python worker).

The subtask calls, in order: :meth:`TaskSession.start`, :meth:`TaskSession.feed` per row,
:meth:`TaskSession.take_output` whenever it may emit, :meth:`TaskSession.finish` at end of
input, and :meth:`TaskSession.close` on every exit path. Nothing here imports Flink or
TensorFlow, so the whole lifecycle is testable with a real child process and no Flink.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bridge.auth import new_token
from bridge.channel import ChannelServer
from bridge.cluster import flink_task, task_label
from bridge.codec import ExampleDecoder, ExampleEncoder
from bridge.deadline import Deadline
from bridge.errors import TaskProcessExitedError
from bridge.framing import RecordBatcher
from bridge.process import TaskProcess
from bridge.protos import task_spec_pb2
from bridge.schema import parse_schema
from operators._task_plan import TaskPlan

__all__ = ["MODEL_FILE", "TaskSession"]

_log = logging.getLogger("akdl.session")
MODEL_FILE = "model.zip"
# After the process exits, how long its last message may still be in flight.
_EXIT_SETTLE_S = 3.0
_WAIT_STEP_S = 0.1


class TaskSession:
    """Owns one TF process: its work dir, channel server and process handle."""

    def __init__(self, plan: TaskPlan, subtask_index: int):
        self.plan = plan
        self.task = flink_task(subtask_index, plan.num_workers)
        self.label = task_label(self.task)
        self._encoder = ExampleEncoder(parse_schema(plan.input_schema))
        self._decoder = ExampleDecoder(parse_schema(plan.output_schema))
        self._batcher = RecordBatcher()
        self._pending: list[bytes] = []
        self._server: ChannelServer | None = None
        self._process: TaskProcess | None = None
        self.work_dir = ""
        self.failed = False

    @property
    def _who(self) -> str:
        return f"{self.plan.operator_name} {self.label}"

    def start(self) -> None:
        """Create the work dir, start the channel server and spawn the TF process."""
        root = self.plan.work_dir_root or None
        if root:
            os.makedirs(root, exist_ok=True)
        self.work_dir = tempfile.mkdtemp(prefix=f"akdl-{self.label.replace(':', '')}-", dir=root)
        for path in self.plan.user_files:
            shutil.copy(path, self.work_dir)
        if self.plan.model_file:
            with open(os.path.join(self.work_dir, MODEL_FILE), "wb") as f:
                f.write(self.plan.model_file)
        self._server = ChannelServer(new_token())
        spec_path = os.path.join(self.work_dir, "task_spec.pb")
        with open(spec_path, "wb") as f:
            f.write(self._spec().SerializeToString())
        argv = [self.plan.python_executable, "-u", "-m", "akdl.runner", "--spec", spec_path]
        self._process = TaskProcess(
            argv,
            self.label,
            cwd=self.work_dir,
            env=self._child_env(),
            echo=self.plan.print_process_info,
        )
        _log.info(
            "%s: started TF process pid %s in %s", self._who, self._process.pid, self.work_dir
        )

    def _spec(self) -> task_spec_pb2.TaskSpec:
        plan = self.plan
        return task_spec_pb2.TaskSpec(
            task=self.task,
            mode=plan.mode,
            channel_address=self._server.address,
            coordinator_address=plan.coordinator_address,
            token=self._server.token,
            work_dir=self.work_dir,
            main_script=plan.main_script,
            user_params_json=plan.user_params_json,
            input_schema=plan.input_schema,
            output_schema=plan.output_schema,
            num_workers=plan.num_workers,
            num_ps=plan.num_ps,
            intra_op_parallelism=plan.intra_op_parallelism,
            rpc_timeout_s=plan.rpc_timeout_s,
            operator_name=plan.operator_name,
            properties=plan.properties,
            coordinator_token=plan.coordinator_token,
            rendezvous_timeout_s=plan.rendezvous_timeout_s,
        )

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        paths = [self.work_dir] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def feed(self, values: Sequence[Any]) -> None:
        """Encode one row and queue it; sends a batch when one is full."""
        if self._batcher.add(self._encoder.encode(values)):
            self._send_batch()

    def flush_input(self) -> None:
        """Send the queued rows now, even if the batch is not full (stream stages)."""
        if len(self._batcher):
            self._send_batch()

    def poll(self) -> list[list[Any]]:
        """Output that has arrived so far; raises the task's error if its process ended badly.

        For periodic calls while no input arrives (stream stages): a crashed TF process is
        noticed here, not only when the next row is fed.
        """
        rows = self.take_output()
        if not self._settle_result():
            self._check_alive()
        return rows + self.take_output()

    def _settle_result(self) -> bool:
        """Whether the task's result has arrived; raises its error if it failed."""
        result = self._server.collector.result
        if result is None:
            return False
        self.failed = result.error is not None
        result.raise_if_failed(self.label, self.plan.operator_name)
        return True

    def _send_batch(self) -> None:
        deadline = Deadline(
            self.plan.rpc_timeout_s, f"{self._who} to read its input", "rpcTimeoutS"
        )
        self._server.feed.put_records(self._batcher.take(), deadline, self._while_blocked)

    def _while_blocked(self) -> None:
        self._pending.extend(self._server.collector.drain())
        self._check_alive()

    def _check_alive(self) -> None:
        code = self._process.poll()
        if code is None:
            return
        settle = Deadline(_EXIT_SETTLE_S, f"the last message of {self._who}")
        while not settle.expired():
            self._pending.extend(self._server.collector.drain())
            if self._settle_result():
                return
            time.sleep(_WAIT_STEP_S)
        self.failed = True
        raise TaskProcessExitedError(
            self.label, code, self._process.last_lines(), self.plan.operator_name
        )

    @property
    def has_output(self) -> bool:
        """Whether output rows are waiting; cheap enough to ask for every input row."""
        return bool(self._pending) or self._server.collector.available

    def take_output(self) -> list[list[Any]]:
        """Decoded output rows that have arrived so far, without waiting."""
        self._pending.extend(self._server.collector.drain())
        return self._decode_pending()

    def _decode_pending(self) -> list[list[Any]]:
        if not self._pending:
            return []
        records, self._pending = self._pending, []
        return [self._decoder.decode(record) for record in records]

    def finish(self, timeout_s: float | None = None) -> list[list[Any]]:
        """Send the rest of the input and end-of-input, then wait for the task's result.

        Returns the output rows not yet taken. Raises the task's error if it failed.
        """
        if len(self._batcher):
            self._send_batch()
        feed_deadline = Deadline(
            self.plan.rpc_timeout_s, f"{self._who} to read its input", "rpcTimeoutS"
        )
        self._server.feed.end(feed_deadline, self._while_blocked)
        deadline = Deadline(timeout_s, f"{self._who} to finish")
        collector = self._server.collector
        rows: list[list[Any]] = []
        while True:
            self._pending.extend(collector.wait(deadline.slice_s(_WAIT_STEP_S)))
            rows.extend(self._decode_pending())
            if self._settle_result():
                return rows
            self._check_alive()
            deadline.check(missing=f"the result of {self._who}")

    def close(self) -> None:
        """Stop the process and the server; remove the work dir unless the task failed.

        A task that reported success gets a moment to exit on its own; any other (a failed or
        cancelled one) is stopped at once.
        """
        if self._process is not None:
            result = self._server.collector.result if self._server is not None else None
            succeeded = result is not None and result.error is None
            self._process.wait(2.0 if succeeded else 0)
            self._process.stop(self.plan.grace_s)
        if self._server is not None:
            self._server.close()
        if self.work_dir and not self.failed:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        elif self.work_dir:
            _log.warning("%s failed; its work dir is kept at %s", self._who, self.work_dir)
