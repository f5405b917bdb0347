"""The life of one TF process, top to bottom (runs in the TF process).

1. read the task spec, connect to the Flink subtask's channel, and start importing TensorFlow
   in a background thread;
2. open the input the way the task's kind says (`akdl.runner.task_kinds`): batch and train
   spool the whole shard while TensorFlow imports, stream reads it live;
3. register with the stage's coordinator, learn the cluster (`akdl.runner.membership`) and set
   ``TF_CONFIG``;
4. run the kind: the user's ``main(task_config)``, or the SavedModel for predict tasks;
5. let the kind finish (close the output, export the model, drain the stream), then report
   success, or report the error with its traceback.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence

from akdl.runner.membership import ClusterMembership
from akdl.runner.metrics import MetricLogger
from akdl.runner.task_kinds import TaskContext, TaskKind, kind_for
from akdl.runner.watchdog import start_parent_watchdog
from bridge.channel_client import ChannelClient
from bridge.cluster import build_tf_config
from bridge.coordinator.client import abort_error
from bridge.coordinator.rules import RoundEvent
from bridge.errors import CoordinatorError
from bridge.protos import channel_pb2, task_spec_pb2
from bridge.task_ref import TaskRef
from bridge.work_dir import TIMEOUT_STACKS_FILE

__all__ = ["main", "run_task"]

# How long an aborted task tries to report why before it exits anyway.
_ABORT_REPORT_S = 2.0
_log = logging.getLogger("akdl.runner")


class _BackgroundImport:
    """Imports TensorFlow in a thread so the import overlaps with spooling the input."""

    def __init__(self, module: str = "tensorflow"):
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(module,), daemon=True,
                                        name="akdl-tf-import")
        self._thread.start()

    def _run(self, module: str) -> None:
        try:
            importlib.import_module(module)
        except BaseException as exc:  # reported when the task needs TF
            self._error = exc

    def wait(self) -> None:
        """Block until the import finished; re-raise its error."""
        self._thread.join()
        if self._error is not None:
            raise self._error


def _configure_tf(spec: task_spec_pb2.TaskSpec, membership: ClusterMembership) -> None:
    import tensorflow as tf

    if spec.intra_op_parallelism > 0:
        tf.config.threading.set_intra_op_parallelism_threads(spec.intra_op_parallelism)
    serve = tf.distribute.Server.join

    def join_as_serve_only(server):
        # A task that only serves (TF's parameter-server pattern) must not hold the job open:
        # marked serve-only, it is ended once the chief and the other workers are done.
        membership.mark_serve_only()
        return serve(server)

    tf.distribute.Server.join = join_as_serve_only


def _error_message(task: TaskRef, exc: BaseException) -> channel_pb2.TaskError:
    return channel_pb2.TaskError(
        task=task.to_proto(),
        exception_type=type(exc).__name__,
        message=str(exc),
        traceback="".join(traceback.format_exception(exc)),
    )


def _exit_now(code: int) -> None:
    """Leave at once, skipping TensorFlow's slow teardown (the result is already with Flink)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class _Task:
    """One task's run, with the hooks the coordinator's events call."""

    def __init__(self, spec: task_spec_pb2.TaskSpec, client: ChannelClient):
        self._started = time.monotonic()
        task = TaskRef.from_proto(spec.task)
        membership = ClusterMembership(spec, self._aborted, self._finished, self._lost)
        output = client.open_output()
        metrics = MetricLogger(task.label, output, membership.log_metrics)
        self.ctx = TaskContext(spec, task, client, output, membership, metrics)

    def _aborted(self, event: RoundEvent) -> None:
        error = abort_error(event)
        _log.error("stopping: %s", error)
        report = _error_message(self.ctx.task, error)
        if event.failed_task is not None:
            self.ctx.output.fail(report)  # Flink is waiting for it, within rpcTimeoutS
        else:
            self._try_to_fail(report)
        _exit_now(1)

    def _lost(self, error: CoordinatorError) -> None:
        _log.error("stopping: lost the stage's coordinator (its driver is gone or unreachable): "
                   "%s", error)
        self._try_to_fail(_error_message(self.ctx.task, error))
        _exit_now(1)

    def _try_to_fail(self, report: channel_pb2.TaskError) -> None:
        """Send the error to Flink if anyone still reads the channel: try briefly, then leave."""
        sender = threading.Thread(target=self.ctx.output.fail, args=(report,), daemon=True)
        sender.start()
        sender.join(_ABORT_REPORT_S)

    def _finished(self) -> None:
        _log.info("the job is finished; this serve-only task ends")
        self.ctx.output.succeed(self.ctx.records_read)
        _exit_now(0)

    def run(self, tf_import: _BackgroundImport) -> int:
        """Steps 2-5; returns the process exit code."""
        ctx = self.ctx
        try:
            kind = kind_for(ctx.spec)(ctx)
            self._run_kind(kind, tf_import)
        except BaseException as exc:
            _log.error("task failed: %s", exc)
            traceback.print_exc()
            ctx.metrics.close()  # what main logged before it failed still reaches the driver
            ctx.membership.report_done(False, f"{type(exc).__name__}: {exc}")
            ctx.output.fail(_error_message(ctx.task, exc))
            return 1
        ctx.metrics.close()
        ctx.membership.report_done(True)
        ctx.membership.wait_finish()
        ctx.output.succeed(ctx.records_read)
        return 0

    def _run_kind(self, kind: TaskKind, tf_import: _BackgroundImport) -> None:
        ctx, spec = self.ctx, self.ctx.spec
        shard_size = kind.open_input()
        ctx.cluster = ctx.membership.join(shard_size, solo=not kind.USES_CLUSTER)
        if kind.USES_CLUSTER:
            os.environ["TF_CONFIG"] = build_tf_config(ctx.cluster, ctx.task)
        # main is not held back until the warm-up import ends (a script's own `import
        # tensorflow` waits for it), unless TF must be set up first: threads, or a cluster whose
        # tasks may block in server.join() and must then be known as serve-only.
        if kind.NEEDS_TF or spec.intra_op_parallelism > 0 or spec.num_workers + spec.num_ps > 1:
            tf_import.wait()
            _configure_tf(spec, ctx.membership)
        main_started = time.monotonic()
        kind.run()
        main_ended = time.monotonic()
        kind.finish()
        ctx.metrics.log_metrics({
            "rows_in": ctx.records_read,
            "rows_out": ctx.output.records_written,
            "seconds_to_main": round(main_started - self._started, 3),
            "seconds_in_main": round(main_ended - main_started, 3),
        }, step=0)


def _arm_task_timeout(spec: task_spec_pb2.TaskSpec) -> None:
    """With ``taskTimeoutS``: once it expires, dump every thread's stack and exit.

    ``faulthandler`` does it from a C thread, so it works even while ``main`` holds the GIL
    in native code. The Flink subtask reads the dump from the work dir into its error.
    """
    if spec.task_timeout_s > 0:
        stacks = open(os.path.join(spec.work_dir, TIMEOUT_STACKS_FILE), "w")  # noqa: SIM115
        faulthandler.dump_traceback_later(spec.task_timeout_s, exit=True, file=stacks)


def run_task(spec: task_spec_pb2.TaskSpec, tf_import: _BackgroundImport | None = None) -> int:
    """Run one task described by ``spec``; returns the process exit code.

    ``tf_import`` is the warm-up import of TensorFlow, when it already started.
    """
    _arm_task_timeout(spec)
    tf_import = tf_import or _BackgroundImport()
    client = ChannelClient(spec.channel_address, spec.token, spec.task, spec.rpc_timeout_s)
    task = _Task(spec, client)
    try:
        return task.run(tf_import)
    finally:
        task.ctx.membership.close()
        client.close()


def _enter_work_dir(work_dir: str) -> None:
    """What a spawned process gets from its command line: the work dir as cwd and on the path."""
    os.chdir(work_dir)
    sys.path.insert(0, work_dir)
    paths = [work_dir, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``--spec PATH`` names the serialized TaskSpec.

    ``--warm`` starts a warm process instead: it imports TensorFlow at once and then reads the
    spec's path from its stdin (end of stdin without a line: it exits), so that a task adopting
    it does not wait for the import (`operators._warm_pool`).
    """
    parser = argparse.ArgumentParser(prog="python -m akdl.runner")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--spec", help="path of the serialized TaskSpec")
    source.add_argument("--warm", action="store_true", help="read the spec path from stdin")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start_parent_watchdog()
    tf_import = None
    spec_path = args.spec
    if args.warm:
        tf_import = _BackgroundImport()
        spec_path = sys.stdin.readline().strip()
        if not spec_path:
            _exit_now(0)  # the pool let it go unused
    with open(spec_path, "rb") as f:
        spec = task_spec_pb2.TaskSpec.FromString(f.read())
    if args.warm:
        _enter_work_dir(spec.work_dir)
    _exit_now(run_task(spec, tf_import))
