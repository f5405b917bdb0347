"""The life of one TF process, top to bottom (runs in the TF process).

1. read the task spec and connect to the Flink subtask's channel;
2. batch/train: spool the whole shard to ``<work_dir>/dataset.tfrecords`` while TensorFlow is
   still importing in a background thread, counting records exactly; stream: nothing yet, the
   script's ``dataset_fn()`` reads the channel live (see ``live_input``);
3. register with the job's coordinator and learn the cluster (see ``membership``), set
   ``TF_CONFIG`` and build the task config;
4. import the user's main script and call ``main(task_config)``;
5. train tasks: the chief's SavedModel in ``saved_model_dir`` becomes the output model rows;
6. flush the output and report success, or report the error with its traceback.

Predict tasks run no user script: after step 3 they predict with the SavedModel (see
``predict_task``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Sequence

from akdl.runner.config import BatchTaskConfig, StreamTaskConfig, TFContext, TrainTaskConfig
from akdl.runner.live_input import LiveInput
from akdl.runner.membership import ClusterMembership
from akdl.runner.output_writer import OutputWriter
from akdl.runner.predict_task import run_predictions
from akdl.runner.tfrecord import TFRecordWriter
from akdl.runner.user_script import load_main
from akdl.runner.watchdog import start_parent_watchdog
from bridge.channel_client import ChannelClient, OutputStream
from bridge.cluster import build_tf_config, task_label, tf_task
from bridge.errors import JobAbortedError, PeerFailedError
from bridge.model_rows import find_saved_model, saved_model_to_model_rows
from bridge.protos import channel_pb2, task_spec_pb2
from bridge.schema import parse_schema

__all__ = ["main", "run_task"]

DATASET_FILE = "dataset.tfrecords"
SAVED_MODEL_DIR = "saved_model"
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


def _spool(client: ChannelClient, path: str) -> int:
    """Write every input record to ``path`` as TFRecords; returns the exact count."""
    with TFRecordWriter(path) as writer:
        for batch in client.record_batches():
            writer.write_many(batch)
        return writer.count


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


def _error_message(spec: task_spec_pb2.TaskSpec, exc: BaseException) -> channel_pb2.TaskError:
    return channel_pb2.TaskError(
        task=spec.task,
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
    """One run of the user's main, with the hooks the coordinator's events call."""

    def __init__(self, spec: task_spec_pb2.TaskSpec, client: ChannelClient):
        self.spec = spec
        self.client = client
        self.output: OutputStream = client.open_output()
        self.records_read = 0
        self.membership = ClusterMembership(spec, self._peer_failed, self._finished)

    def _peer_failed(self, event) -> None:
        if event.failed_task:
            error: Exception = PeerFailedError(
                task_label(event.failed_task), event.reason, event.round
            )
        else:  # aborted from outside the tasks, e.g. the job was cancelled
            error = JobAbortedError(f"the job's round {event.round} was aborted: {event.reason}")
        _log.error("stopping: %s", error)
        report = _error_message(self.spec, error)
        if event.failed_task:
            self.output.fail(report)  # Flink is waiting for it, within rpcTimeoutS
        else:
            # After a cancel nobody may read the channel any more: try briefly, then leave.
            sender = threading.Thread(target=self.output.fail, args=(report,), daemon=True)
            sender.start()
            sender.join(_ABORT_REPORT_S)
        _exit_now(1)

    def _finished(self) -> None:
        _log.info("the job is finished; this serve-only task ends")
        self.output.succeed(self.records_read)
        _exit_now(0)

    def run(self, tf_import: _BackgroundImport) -> int:
        """Steps 2-5; returns the process exit code."""
        try:
            self._run_main(tf_import)
        except BaseException as exc:
            _log.error("task failed: %s", exc)
            traceback.print_exc()
            self.membership.report_done(False, f"{type(exc).__name__}: {exc}")
            self.output.fail(_error_message(self.spec, exc))
            return 1
        self.membership.report_done(True)
        self.output.succeed(self.records_read)
        return 0

    def _run_predict(self, tf_import: _BackgroundImport) -> None:
        spec = self.spec
        self.membership.join(0)
        tf_import.wait()
        _configure_tf(spec, self.membership)
        self.records_read = run_predictions(
            json.loads(spec.user_params_json or "{}"),
            parse_schema(spec.input_schema),
            parse_schema(spec.output_schema),
            spec.work_dir,
            self.client.record_batches(),
            self.output,
        )

    def _run_main(self, tf_import: _BackgroundImport) -> None:
        spec = self.spec
        if spec.mode == task_spec_pb2.PREDICT:
            self._run_predict(tf_import)
            return
        if spec.mode in (task_spec_pb2.BATCH, task_spec_pb2.TRAIN):
            dataset_file = os.path.join(spec.work_dir, DATASET_FILE)
            self.records_read = _spool(self.client, dataset_file)
            live_input = None
        elif spec.mode == task_spec_pb2.STREAM:
            dataset_file = None
            live_input = LiveInput(self.client)
        else:
            raise NotImplementedError(f"task mode {task_spec_pb2.TaskMode.Name(spec.mode)}")
        cluster = self.membership.join(self.records_read)
        task_type, task_index = tf_task(spec.task)
        os.environ["TF_CONFIG"] = build_tf_config(cluster, task_type, task_index)
        # main is not held back until the warm-up import ends (a script's own `import
        # tensorflow` waits for it), unless TF must be set up first: threads, or a cluster whose
        # tasks may block in server.join() and must then be known as serve-only.
        if spec.intra_op_parallelism > 0 or spec.num_workers + spec.num_ps > 1:
            tf_import.wait()
            _configure_tf(spec, self.membership)
        writer = OutputWriter(self.output, parse_schema(spec.output_schema))
        properties = {
            **spec.properties,
            "input_schema": spec.input_schema,
            "output_schema": spec.output_schema,
            "operator": spec.operator_name,
        }
        common = dict(
            num_workers=spec.num_workers,
            cluster=cluster,
            task_type=task_type,
            task_index=task_index,
            work_dir=spec.work_dir,
            user_params=json.loads(spec.user_params_json or "{}"),
        )
        if live_input is not None:
            config = StreamTaskConfig(
                tf_context=TFContext(None, live_input.dataset, properties),
                dataset_fn=live_input.dataset,
                output_writer=writer,
                **common,
            )
        else:
            shard = dict(
                tf_context=TFContext(dataset_file, None, properties),
                dataset_file=dataset_file,
                dataset_length=self.records_read,
                worker_dataset_lengths=self.membership.worker_dataset_lengths,
                **common,
            )
            if spec.mode == task_spec_pb2.TRAIN:
                saved_model_dir = os.path.join(spec.work_dir, SAVED_MODEL_DIR)
                os.makedirs(saved_model_dir, exist_ok=True)
                config = TrainTaskConfig(saved_model_dir=saved_model_dir, **shard)
            else:
                config = BatchTaskConfig(output_writer=writer, **shard)
        main_fn = load_main(spec.main_script, spec.work_dir)
        main_fn(config)
        if spec.mode == task_spec_pb2.TRAIN and task_type == "chief":
            _write_exported_model(config.saved_model_dir, writer)
        writer.close()
        if live_input is not None:
            live_input.drain()
            self.records_read = live_input.records_read


def _write_exported_model(saved_model_dir: str, writer: OutputWriter) -> None:
    """The chief's SavedModel becomes the train operator's output: Alink model rows."""
    model_dir = find_saved_model(saved_model_dir)
    for model_id, info in saved_model_to_model_rows(model_dir, "model"):
        writer.write_row({"model_id": model_id, "model_info": info})
    _log.info("wrote the SavedModel of %s as model rows", model_dir)


def run_task(spec: task_spec_pb2.TaskSpec) -> int:
    """Run one task described by ``spec``; returns the process exit code."""
    tf_import = _BackgroundImport()
    client = ChannelClient(spec.channel_address, spec.token, spec.task, spec.rpc_timeout_s)
    task = _Task(spec, client)
    try:
        return task.run(tf_import)
    finally:
        task.membership.close()
        client.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``--spec PATH`` names the serialized TaskSpec."""
    parser = argparse.ArgumentParser(prog="python -m akdl.runner")
    parser.add_argument("--spec", required=True, help="path of the serialized TaskSpec")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start_parent_watchdog()
    with open(args.spec, "rb") as f:
        spec = task_spec_pb2.TaskSpec.FromString(f.read())
    _exit_now(run_task(spec))
