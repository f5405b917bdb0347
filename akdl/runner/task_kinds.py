"""The kinds of task a TF process can run, one class each (runs in the TF process).

Every kind says how it opens its input, builds the config handed to ``main`` (or what runs in
its place), and finishes after ``main``; the runner (`akdl.runner.task_runner`) owns the steps
they share: the channel, the rendezvous, ``TF_CONFIG``, reporting. Adding a kind means one
class here, registered with :func:`task_kind`, and one handler on the Flink side.

=========  ==================================  ==================================================
kind       input                               after ``main``
=========  ==================================  ==================================================
BATCH      spooled to ``dataset.tfrecords``    close the output
STREAM     ``dataset_fn()`` reads it live      drain what ``main`` left unread
TRAIN      spooled, as BATCH                   the chief's SavedModel becomes model rows
PREDICT    record batches, answered in order   (no user script: the SavedModel runs instead)
=========  ==================================  ==================================================
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from akdl.runner.config import BatchTaskConfig, StreamTaskConfig, TFContext, TrainTaskConfig
from akdl.runner.current import task_config_in_use
from akdl.runner.live_input import LiveInput
from akdl.runner.membership import ClusterMembership
from akdl.runner.metrics import MetricLogger
from akdl.runner.output_writer import OutputWriter
from akdl.runner.predict_task import run_predictions
from akdl.runner.script_main import run_script_as_main
from akdl.runner.tfrecord import TFRecordWriter
from akdl.runner.user_script import load_main
from bridge.channel_client import ChannelClient, OutputStream
from bridge.codec import ExampleEncoder
from bridge.column_batch import batch_rows
from bridge.model_rows import find_saved_model, saved_model_to_model_rows
from bridge.protos import task_spec_pb2
from bridge.protos.channel_pb2 import ColumnBatch
from bridge.schema import parse_schema
from bridge.task_ref import Role, TaskRef
from bridge.work_dir import DATASET_FILE, SAVED_MODEL_DIR

__all__ = ["DATASET_FILE", "SAVED_MODEL_DIR", "TaskContext", "TaskKind", "kind_for", "task_kind"]

_log = logging.getLogger("akdl.runner")


@dataclass
class TaskContext:
    """What every kind may use: the spec, this task, its channel, output and cluster.

    Attributes:
        spec: the task spec.
        task: this process's task.
        client: the data channel to the Flink subtask.
        output: the output stream to the Flink subtask.
        membership: registration with the coordinator.
        metrics: the task's metric logger (``task_config.log_metric``).
        cluster: the TF cluster, once the rendezvous is done.
        records_read: input records read so far (reported with success).
    """

    spec: task_spec_pb2.TaskSpec
    task: TaskRef
    client: ChannelClient
    output: OutputStream
    membership: ClusterMembership
    metrics: MetricLogger
    cluster: dict[str, list[str]] = field(default_factory=dict)
    records_read: int = 0

    def writer(self) -> OutputWriter:
        """An output writer of the declared output schema."""
        return OutputWriter(self.output, parse_schema(self.spec.output_schema))

    def common_config(self) -> dict[str, Any]:
        """The task-config fields every script kind shares (API.md §2)."""
        spec = self.spec
        properties = {
            **spec.properties,
            "input_schema": spec.input_schema,
            "output_schema": spec.output_schema,
            "operator": spec.operator_name,
        }
        return dict(
            num_workers=spec.num_workers,
            cluster=self.cluster,
            task_type=self.task.role.value,
            task_index=self.task.index,
            work_dir=spec.work_dir,
            user_params=json.loads(spec.user_params_json or "{}"),
            metric_logger=self.metrics,
            properties=properties,
        )


class TaskKind:
    """How one kind of task runs; a fresh instance per task.

    Lifetime: the runner calls :meth:`open_input`, then (after the rendezvous)
    :meth:`run`, then :meth:`finish`.
    """

    #: The ``TaskKind`` enum value of the spec this class runs.
    KIND: ClassVar[int] = task_spec_pb2.TASK_KIND_UNSPECIFIED
    #: Whether TensorFlow must be imported and configured before ``run`` (no user script
    #: imports it for us).
    NEEDS_TF: ClassVar[bool] = False
    #: Whether the task joins a TF cluster (rendezvous, ``TF_CONFIG``); one that does not
    #: registers solo, only to receive the round's ABORT.
    USES_CLUSTER: ClassVar[bool] = True

    def __init__(self, ctx: TaskContext):
        self.ctx = ctx

    def open_input(self) -> int:
        """Open the input before the rendezvous; returns this task's exact shard size, or 0."""
        return 0

    def run(self) -> None:
        """Run the task's work: the user's ``main``, or what replaces it."""
        raise NotImplementedError

    def finish(self) -> None:
        """What follows a successful :meth:`run`, before success is reported."""


_KINDS: dict[int, type[TaskKind]] = {}


def task_kind(cls: type[TaskKind]) -> type[TaskKind]:
    """Class decorator: register a kind under its ``KIND``."""
    _KINDS[cls.KIND] = cls
    return cls


def kind_for(spec: task_spec_pb2.TaskSpec) -> type[TaskKind]:
    """The class that runs tasks of ``spec.kind``.

    Raises:
        ValueError: no kind is registered for it.
    """
    kind = _KINDS.get(spec.kind)
    if kind is None:
        raise ValueError(f"no task kind {spec.kind} in this akdl version")
    return kind


class _ScriptKind(TaskKind):
    """A kind that runs the user's ``main(task_config)``, or the script as ``__main__``."""

    def __init__(self, ctx: TaskContext):
        super().__init__(ctx)
        self.writer = ctx.writer()
        self.config: Any = None

    def build_config(self) -> Any:
        """The task config handed to ``main``."""
        raise NotImplementedError

    def run(self) -> None:
        """Build the config, then call the user's ``main``, or run the script (scriptArgs).

        Either way the config is `akdl.current_task_config` meanwhile.
        """
        spec = self.ctx.spec
        self.config = self.build_config()
        with task_config_in_use(self.config):
            if spec.HasField("script_args"):
                run_script_as_main(spec.main_script, spec.work_dir, spec.script_args.args,
                                   self.config, spec.kind, self.ctx.task.describe())
            else:
                load_main(spec.main_script, spec.work_dir)(self.config)

    def finish(self) -> None:
        """Flush and close the output writer."""
        self.writer.close()


class _SpooledKind(_ScriptKind):
    """Batch and train: the whole shard is spooled to a TFRecord file before ``main``."""

    def __init__(self, ctx: TaskContext):
        super().__init__(ctx)
        self.dataset_file = os.path.join(ctx.spec.work_dir, DATASET_FILE)

    def open_input(self) -> int:
        """Spool every input row to ``dataset.tfrecords``; returns the exact count.

        Rows arrive as Example records (row path) or as columns (columnar path), which are
        encoded into the same Example records here, in the TF process.
        """
        schema = parse_schema(self.ctx.spec.input_schema)
        encoder = ExampleEncoder(schema)
        try:
            with TFRecordWriter(self.dataset_file) as writer:
                for batch in self.ctx.client.input_batches():
                    if isinstance(batch, ColumnBatch):
                        batch = encoder.encode_many(batch_rows(schema, batch))
                    writer.write_many(batch)
                self.ctx.records_read = writer.count
        except OSError as exc:
            # A full disk must not stay full: the partial shard goes at once.
            with contextlib.suppress(OSError):
                os.remove(self.dataset_file)
            raise OSError(
                exc.errno, f"could not spool the input into the work dir {self.ctx.spec.work_dir} "
                f"({exc.strerror or exc}); the partial {DATASET_FILE} was removed. Free space "
                "there, or point workDirRoot at a larger disk",
            ) from exc
        return self.ctx.records_read

    def shard_config(self) -> dict[str, Any]:
        """The fields of a spooled shard's config."""
        common = self.ctx.common_config()
        properties = common.pop("properties")
        return dict(
            tf_context=TFContext(self.dataset_file, None, properties),
            dataset_file=self.dataset_file,
            dataset_length=self.ctx.records_read,
            worker_dataset_lengths=self.ctx.membership.worker_dataset_lengths,
            **common,
        )


@task_kind
class BatchKind(_SpooledKind):
    """``TensorFlowBatchOp``: ``main`` reads the spooled shard and writes rows."""

    KIND = task_spec_pb2.BATCH

    def build_config(self) -> BatchTaskConfig:
        """A `BatchTaskConfig` with the output writer."""
        return BatchTaskConfig(output_writer=self.writer, **self.shard_config())


@task_kind
class TrainKind(_SpooledKind):
    """``TFTableModelTrainBatchOp``: ``main`` exports a SavedModel; the chief's becomes rows."""

    KIND = task_spec_pb2.TRAIN

    def build_config(self) -> TrainTaskConfig:
        """A `TrainTaskConfig` with a fresh ``saved_model_dir``."""
        saved_model_dir = os.path.join(self.ctx.spec.work_dir, SAVED_MODEL_DIR)
        os.makedirs(saved_model_dir, exist_ok=True)
        return TrainTaskConfig(saved_model_dir=saved_model_dir, **self.shard_config())

    def finish(self) -> None:
        """The chief writes its export as Alink model rows, then closes the output."""
        if self.ctx.task.role is Role.CHIEF:
            model_dir = find_saved_model(self.config.saved_model_dir)
            for model_id, info in saved_model_to_model_rows(model_dir, "model"):
                self.writer.write_row({"model_id": model_id, "model_info": info})
            _log.info("wrote the SavedModel of %s as model rows", model_dir)
        super().finish()


@task_kind
class StreamKind(_ScriptKind):
    """``TensorFlowStreamOp``: ``main`` starts at once and reads the input live."""

    KIND = task_spec_pb2.STREAM

    def __init__(self, ctx: TaskContext):
        super().__init__(ctx)
        self.live_input = LiveInput(ctx.client, parse_schema(ctx.spec.input_schema))

    def build_config(self) -> StreamTaskConfig:
        """A `StreamTaskConfig` whose ``dataset_fn`` reads the channel live."""
        common = self.ctx.common_config()
        properties = common.pop("properties")
        dataset: Callable[[], Any] = self.live_input.dataset
        return StreamTaskConfig(
            tf_context=TFContext(None, dataset, properties),
            dataset_fn=dataset,
            output_writer=self.writer,
            **common,
        )

    def finish(self) -> None:
        """Close the output, then read (and drop) what ``main`` left unread."""
        super().finish()
        self.live_input.drain()
        self.ctx.records_read = self.live_input.records_read


@task_kind
class PredictKind(TaskKind):
    """The predict operators: the SavedModel answers every record batch, in order."""

    KIND = task_spec_pb2.PREDICT
    NEEDS_TF = True
    USES_CLUSTER = False

    def run(self) -> None:
        """Predict every input batch and send the outputs."""
        spec = self.ctx.spec
        self.ctx.records_read = run_predictions(
            spec.predict,
            parse_schema(spec.input_schema),
            parse_schema(spec.output_schema),
            spec.work_dir,
            self.ctx.client.input_batches(),
            self.ctx.output,
        )
