"""The life of one TF process, top to bottom (runs in the TF process).

1. read the task spec and connect to the Flink subtask's channel;
2. batch/train: spool the whole shard to ``<work_dir>/dataset.tfrecords`` while TensorFlow is
   still importing in a background thread, counting records exactly;
3. set ``TF_CONFIG`` and build the task config;
4. import the user's main script and call ``main(task_config)``;
5. flush the output and report success, or report the error with its traceback.
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

from akdl.runner.config import BatchTaskConfig, TFContext
from akdl.runner.output_writer import OutputWriter
from akdl.runner.tfrecord import TFRecordWriter
from akdl.runner.user_script import load_main
from akdl.runner.watchdog import start_parent_watchdog
from bridge.channel_client import ChannelClient, OutputStream
from bridge.cluster import build_tf_config, tf_task
from bridge.protos import channel_pb2, task_spec_pb2
from bridge.schema import parse_schema

__all__ = ["main", "run_task"]

DATASET_FILE = "dataset.tfrecords"
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


def _configure_tf(spec: task_spec_pb2.TaskSpec) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(spec.intra_op_parallelism)


def _cluster_of(spec: task_spec_pb2.TaskSpec) -> dict[str, list[str]]:
    """The TF cluster; a single task gets a cluster of just itself."""
    if spec.properties.get("cluster_json"):
        return json.loads(spec.properties["cluster_json"])
    task_type, _ = tf_task(spec.task)
    return {task_type: [spec.properties.get("tf_address", "127.0.0.1:0")]}


def _error_message(spec: task_spec_pb2.TaskSpec, exc: BaseException) -> channel_pb2.TaskError:
    return channel_pb2.TaskError(
        task=spec.task,
        exception_type=type(exc).__name__,
        message=str(exc),
        traceback="".join(traceback.format_exception(exc)),
    )


def run_task(spec: task_spec_pb2.TaskSpec) -> int:
    """Run one task described by ``spec``; returns the process exit code."""
    tf_import = _BackgroundImport()
    client = ChannelClient(spec.channel_address, spec.token, spec.task, spec.rpc_timeout_s)
    output: OutputStream = client.open_output()
    try:
        records_read = _run_user_main(spec, client, output, tf_import)
        output.succeed(records_read)
        return 0
    except BaseException as exc:
        _log.error("task failed: %s", exc)
        traceback.print_exc()
        output.fail(_error_message(spec, exc))
        return 1
    finally:
        client.close()


def _run_user_main(spec, client, output, tf_import: _BackgroundImport) -> int:
    """Steps 2-4 for a batch task; returns how many input records were read."""
    if spec.mode != task_spec_pb2.BATCH:
        raise NotImplementedError(f"task mode {task_spec_pb2.TaskMode.Name(spec.mode)}")
    dataset_file = os.path.join(spec.work_dir, DATASET_FILE)
    dataset_length = _spool(client, dataset_file)
    cluster = _cluster_of(spec)
    task_type, task_index = tf_task(spec.task)
    os.environ["TF_CONFIG"] = build_tf_config(cluster, task_type, task_index)
    # main is not held back until the warm-up import ends: a script's own `import tensorflow`
    # waits on that import by itself, and a script that never needs TF does not pay for it.
    if spec.intra_op_parallelism > 0:
        tf_import.wait()
        _configure_tf(spec)
    writer = OutputWriter(output, parse_schema(spec.output_schema))
    properties = {
        **spec.properties,
        "input_schema": spec.input_schema,
        "output_schema": spec.output_schema,
        "operator": spec.operator_name,
    }
    config = BatchTaskConfig(
        tf_context=TFContext(dataset_file, None, properties),
        num_workers=spec.num_workers,
        cluster=cluster,
        task_type=task_type,
        task_index=task_index,
        work_dir=spec.work_dir,
        user_params=json.loads(spec.user_params_json or "{}"),
        dataset_file=dataset_file,
        dataset_length=dataset_length,
        worker_dataset_lengths=[dataset_length],
        output_writer=writer,
    )
    main_fn = load_main(spec.main_script, spec.work_dir)
    main_fn(config)
    writer.close()
    return dataset_length


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``--spec PATH`` names the serialized TaskSpec."""
    parser = argparse.ArgumentParser(prog="python -m akdl.runner")
    parser.add_argument("--spec", required=True, help="path of the serialized TaskSpec")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start_parent_watchdog()
    with open(args.spec, "rb") as f:
        spec = task_spec_pb2.TaskSpec.FromString(f.read())
    code = run_task(spec)
    # The result is already with Flink: skip TensorFlow's slow interpreter teardown, which
    # would otherwise sit on the job's critical path.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
