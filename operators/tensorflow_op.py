"""Alink's TensorFlow custom-script operators (runs in the Flink driver).

``TensorFlowBatchOp`` (alias ``TensorFlow2BatchOp``) runs the user's ``main(task_config)`` in one
TF process per subtask, feeds it that subtask's rows, and turns what it writes through
``task_config.output_writer`` into rows of ``outputSchemaStr``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, ClassVar

from bridge.model_rows import MODEL_SCHEMA
from bridge.protos import task_spec_pb2
from bridge.schema import parse_schema
from operators import env as _env
from operators._job_coordinators import start_coordinator
from operators._task_plan import TaskPlan
from operators._tf_stage import build_tf_stage
from operators.base import BatchOperator, StreamOperator
from operators.params import Param, at_least, json_dict_string, json_list
from operators.types import schema_of_table

__all__ = [
    "TF2TableModelTrainBatchOp",
    "TFTableModelTrainBatchOp",
    "TensorFlow2BatchOp",
    "TensorFlow2StreamOp",
    "TensorFlowBatchOp",
    "TensorFlowStreamOp",
]

SCRIPT_PARAMS = (
    Param("userFiles", list, default=[], convert=json_list,
          doc="local paths of the Python files copied into each TF process's work dir"),
    Param("mainScriptFile", str, required=True,
          doc="the user file that defines main(task_config)"),
    Param("userParams", str, default="{}", convert=json_dict_string,
          doc="JSON object handed to the script as task_config.user_params"),
    Param("numWorkers", int, validate=at_least(1),
          doc="TF workers, chief included (default: every subtask of the parallelism)"),
    Param("numPSs", int, validate=at_least(0), aliases=("num_ps",),
          doc="TF parameter servers (default 0)"),
    Param("pythonEnv", str, default="",
          doc="Python interpreter, or venv directory, that runs the TF processes"),
    Param("intraOpParallelism", int, default=0, validate=at_least(0),
          doc="TF intra-op threads per process (0: TF's default)"),
    Param("selectedCols", list, convert=json_list,
          doc="input columns fed to TF (default: all)"),
    Param("printProcessInfo", bool, default=False,
          doc="echo spawn commands, TF_CONFIG and each TF process's output to stdout"),
    Param("rpcTimeoutS", float, default=600.0, validate=at_least(1),
          doc="longest wait on a peer (TF process, channel) before the job fails"),
    Param("rendezvousTimeoutS", float, default=300.0, validate=at_least(1),
          doc="how long all TF processes may take to start and register with each other"),
)


BUNDLE_TIME_KEY = "python.fn-execution.bundle.time"
# Marks a bundle time that akdl set (not the user), so a later stage may lower it again.
_BUNDLE_TIME_MARK = "akdl.bundle-time-set-by-akdl"
_log = logging.getLogger("akdl.operators")


def cap_bundle_time(t_env, flush_interval_ms: int, operator: str) -> None:
    """Make PyFlink hand Python output to Flink at least every ``flush_interval_ms``.

    PyFlink holds a Python function's output until its bundle ends (every
    ``python.fn-execution.bundle.time`` ms, 1000 by default), which would add up to that much
    to a stream stage's latency. Unset, or set by an earlier stage, it is lowered to the flush
    interval; a larger value the user chose is kept, with a warning, since it then bounds the
    latency instead. The setting applies to the whole job (every Python function in it).
    """
    config = t_env.get_config()
    current = config.get(BUNDLE_TIME_KEY, None)
    ours = config.get(_BUNDLE_TIME_MARK, None)
    if not current or (ours == current and int(current) > flush_interval_ms):
        config.set(BUNDLE_TIME_KEY, str(flush_interval_ms))
        config.set(_BUNDLE_TIME_MARK, str(flush_interval_ms))
    elif ours != current and int(current) > flush_interval_ms:
        _log.warning(
            "%s: %s = %s ms (set in the environment) delays output by up to that much; "
            "flushIntervalMs is %d ms", operator, BUNDLE_TIME_KEY, current, flush_interval_ms,
        )


def resolve_python(python_env: str) -> str:
    """The interpreter for TF processes: ``pythonEnv`` as a file or venv dir, else ours."""
    if not python_env:
        return sys.executable
    candidate = os.path.join(python_env, "bin", "python")
    return candidate if os.path.isdir(python_env) else python_env


class _ScriptOperatorMixin:
    """Turns the script parameters into a :class:`TaskPlan` and a TF stage."""

    _MODE: ClassVar[int] = task_spec_pb2.BATCH

    def _user_files(self) -> tuple[list[str], str]:
        files = [os.path.abspath(p) for p in self.getUserFiles()]
        for path in files:
            if "://" in path:
                raise self._param_error("userFiles", f"holds a URL ({path}); give a local path")
            if not os.path.isfile(path):
                raise self._param_error(
                    "userFiles", f"names {path!r}, which is not a readable file"
                )
        main = os.path.basename(self.getMainScriptFile())
        names = [os.path.basename(p) for p in files]
        if main not in names:
            main_path = os.path.abspath(self.getMainScriptFile())
            if not os.path.isfile(main_path):
                raise self._param_error(
                    "mainScriptFile",
                    f"{main!r} is neither in userFiles {names} nor a readable file",
                )
            files.append(main_path)
        return files, main

    def _layout(self, default_parallelism: int) -> tuple[int, int]:
        workers, ps = self.getNumWorkers(), self.getNumPSs() or 0
        if workers is None:
            workers = default_parallelism - ps
            if workers < 1:
                raise self._param_error("numPSs", f"= {ps} leaves no worker at parallelism "
                                 f"{default_parallelism}; set numWorkers")
        return workers, ps

    def _plan(
        self,
        t_env,
        input_schema: str,
        output_schema: str,
        default_parallelism: int,
        flush_interval_ms: int = 0,
    ) -> TaskPlan:
        self._check_required()
        files, main = self._user_files()
        workers, ps = self._layout(default_parallelism)
        return new_plan(
            self,
            t_env,
            mode=self._MODE,
            input_schema=input_schema,
            output_schema=output_schema,
            num_workers=workers,
            num_ps=ps,
            user_files=tuple(files),
            main_script=main,
            user_params_json=self.getUserParams(),
            rendezvous_timeout_s=self.getRendezvousTimeoutS(),
            flush_interval_ms=flush_interval_ms,
        )

    def _tf_output(
        self, table, output_schema_str: str, default_parallelism: int, flush_interval_ms: int = 0
    ):
        try:
            output_schema = parse_schema(output_schema_str).to_string()
        except ValueError as exc:
            raise self._param_error("outputSchemaStr", str(exc)) from exc
        selected = self.getSelectedCols()
        if selected:
            table = table.select(*[_col(name) for name in selected])
        input_schema = schema_of_table(table).to_string()
        plan = self._plan(
            table._t_env, input_schema, output_schema, default_parallelism, flush_interval_ms
        )
        return attach_stage(self, table, plan)


def new_plan(op: Any, t_env, **fields: Any) -> TaskPlan:
    """A :class:`TaskPlan` for ``op`` with a fresh coordinator and ``op``'s common parameters.

    ``fields`` are the stage-specific TaskPlan fields (mode, schemas, layout, script, ...).
    The slots of ``t_env`` are checked first, so a rejected stage starts no coordinator.
    """
    check_slots(op, t_env, fields["num_workers"] + fields["num_ps"])
    coordinator = start_coordinator(fields["num_workers"], fields["num_ps"])
    return TaskPlan(
        operator_name=type(op).__name__,
        python_executable=resolve_python(op.getPythonEnv()),
        intra_op_parallelism=op.getIntraOpParallelism(),
        print_process_info=op.getPrintProcessInfo() or _env.is_print_process_info(),
        rpc_timeout_s=op.getRpcTimeoutS(),
        coordinator_address=coordinator.address,
        coordinator_token=coordinator.token,
        **fields,
    )


def attach_stage(op: Any, table, plan: TaskPlan, function=None, output_schema=None):
    """Bound stream latency, and append the stage of ``plan`` to ``table``."""
    if plan.flush_interval_ms:
        cap_bundle_time(table._t_env, plan.flush_interval_ms, plan.operator_name)
    return build_tf_stage(table._t_env, table, plan, function, output_schema)


def check_slots(op: Any, t_env, needed: int) -> None:
    """Fail now if the configured slots cannot run every TF process of a stage at once.

    The TF processes of a stage wait for each other at the rendezvous; with fewer slots than
    processes, Flink would run some only after others finish, which never happens.
    """
    configured = t_env.get_config().get("taskmanager.numberOfTaskSlots", "")
    if configured and int(configured) < needed:
        raise op._param_error(
            "numWorkers",
            f"+ numPSs = {needed} TF processes must run at once, but the environment has "
            f"taskmanager.numberOfTaskSlots = {configured}; lower numWorkers/numPSs or "
            f"give the task manager at least {needed} slots",
        )


def _col(name: str) -> Any:
    from pyflink.table.expressions import col

    return col(name)


class TensorFlowBatchOp(_ScriptOperatorMixin, BatchOperator):
    """Runs a TensorFlow script over a batch table (Alink's TensorFlowBatchOp)."""

    PARAMS = (
        *SCRIPT_PARAMS,
        Param("outputSchemaStr", str, required=True,
              doc='schema of the rows the script writes, e.g. "model_id long, model_info string"'),
    )

    def linkFrom(self, *ops: Any) -> TensorFlowBatchOp:
        """Runs the script over the single input's rows."""
        self._check_required()
        (table,) = self._input_tables(ops, 1)
        self._set_output(
            self._tf_output(table, self.getOutputSchemaStr(), _env.get_parallelism())
        )
        return self


class TensorFlow2BatchOp(TensorFlowBatchOp):
    """The same operator as :class:`TensorFlowBatchOp` (Alink kept both names)."""


class TensorFlowStreamOp(_ScriptOperatorMixin, StreamOperator):
    """Runs a TensorFlow script over a stream (Alink's TensorFlowStreamOp).

    The script's ``task_config.dataset_fn()`` is fed live; what it writes reaches Flink within
    about two ``flushIntervalMs`` (the next flush, then the end of PyFlink's bundle) even while
    no input arrives.
    """

    _MODE: ClassVar[int] = task_spec_pb2.STREAM
    PARAMS = (
        *SCRIPT_PARAMS,
        Param("outputSchemaStr", str, required=True,
              doc='schema of the rows the script writes, e.g. "id long, score double"'),
        Param("flushIntervalMs", int, default=100, validate=at_least(1),
              doc="how often buffered input is sent to TF and its output drained into Flink "
                  "while no row arrives; also caps python.fn-execution.bundle.time"),
    )

    def linkFrom(self, *ops: Any) -> TensorFlowStreamOp:
        """Runs the script over the single input stream."""
        self._check_required()
        (table,) = self._input_tables(ops, 1)
        self._set_output(
            self._tf_output(
                table, self.getOutputSchemaStr(), _env.get_parallelism(),
                self.getFlushIntervalMs(),
            )
        )
        return self


class TensorFlow2StreamOp(TensorFlowStreamOp):
    """The same operator as :class:`TensorFlowStreamOp` (Alink kept both names)."""


class TFTableModelTrainBatchOp(_ScriptOperatorMixin, BatchOperator):
    """Trains a model with a TensorFlow script and outputs it as Alink model rows.

    The script's ``main(task_config)`` exports a SavedModel into
    ``task_config.saved_model_dir`` (directly, or in one sub-directory); the chief's becomes
    the output: ``model_id long, model_info string``, row 0 ``(0, "model.zip")`` and then
    base64 chunks of 1 MiB of the zipped SavedModel.
    """

    _MODE: ClassVar[int] = task_spec_pb2.TRAIN
    PARAMS = SCRIPT_PARAMS

    def linkFrom(self, *ops: Any) -> TFTableModelTrainBatchOp:
        """Trains on the single input's rows."""
        self._check_required()
        (table,) = self._input_tables(ops, 1)
        self._set_output(self._tf_output(table, MODEL_SCHEMA, _env.get_parallelism()))
        return self


class TF2TableModelTrainBatchOp(TFTableModelTrainBatchOp):
    """The same operator as :class:`TFTableModelTrainBatchOp` (Alink kept both names)."""
