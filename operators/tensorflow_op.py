"""Alink's TensorFlow custom-script operators (runs in the Flink driver).

``TensorFlowBatchOp`` (alias ``TensorFlow2BatchOp``) runs the user's ``main(task_config)`` in one
TF process per subtask, feeds it that subtask's rows, and turns what it writes through
``task_config.output_writer`` into rows of ``outputSchemaStr``. ``TensorFlowStreamOp`` does the
same over a stream; ``TFTableModelTrainBatchOp`` turns the chief's exported SavedModel into
Alink model rows. With ``scriptArgs`` set, the main script runs unmodified as ``__main__``
instead, with those arguments (`bridge.script_args`).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from bridge.model_rows import MODEL_SCHEMA
from bridge.protos import task_spec_pb2
from bridge.schema import parse_schema
from bridge.script_args import check_script_args
from operators import env as _env
from operators._columnar_stage import COLUMNAR, build_columnar_script, choose_path, log_choice
from operators._op_metrics import MetricsMixin
from operators._stage_function import FlushPolicy
from operators._stage_graph import build_stage
from operators._stage_handlers import ScriptHandler
from operators._stage_plan import plan_stage, read_user_files
from operators._tf_params import FLUSH_PARAM, SCRIPT_PARAMS, output_schema_param
from operators.base import BatchOperator, StreamOperator
from operators.types import schema_of_table

__all__ = [
    "TF2TableModelTrainBatchOp",
    "TFTableModelTrainBatchOp",
    "TensorFlow2BatchOp",
    "TensorFlow2StreamOp",
    "TensorFlowBatchOp",
    "TensorFlowStreamOp",
]


class _ScriptOperator(MetricsMixin):
    """What the script and train operators share: their parameters become one TF stage.

    Subclasses set ``_KIND`` (a ``TaskKind``) and, for streams, take ``flushIntervalMs``.
    """

    _KIND: ClassVar[int] = task_spec_pb2.BATCH

    def linkFrom(self, *ops: Any) -> Any:
        """Runs the script over the single input's rows."""
        self._check_required()
        (table,) = self._input_tables(ops, 1)
        self._set_output(self._script_stage(table))
        return self

    def _output_schema_str(self) -> str:
        return self.getOutputSchemaStr()

    def _flush_policy(self) -> FlushPolicy | None:
        return None

    def _files(self) -> tuple[tuple[tuple[str, bytes], ...], str]:
        """The user files with their contents, and the main script's name among them."""
        paths = list(self.getUserFiles())
        main = os.path.basename(self.getMainScriptFile())
        if main not in [os.path.basename(p) for p in paths]:
            main_path = os.path.abspath(self.getMainScriptFile())
            if not os.path.isfile(main_path):
                names = [os.path.basename(p) for p in paths]
                raise self._param_error(
                    "mainScriptFile",
                    f"{main!r} is neither in userFiles {names} nor a readable file",
                )
            paths.append(main_path)
        return read_user_files(self, paths), main

    def _layout(self, default_parallelism: int) -> tuple[int, int]:
        workers, ps = self.getNumWorkers(), self.getNumPSs() or 0
        if workers is None:
            workers = default_parallelism - ps
            if workers < 1:
                raise self._param_error("numPSs", f"= {ps} leaves no worker at parallelism "
                                        f"{default_parallelism}; set numWorkers")
        return workers, ps

    def _script_args(self) -> list[str] | None:
        """``scriptArgs``, its placeholders checked against this operator's kind; None if unset."""
        args = self.getScriptArgs()
        if args is not None:
            try:
                check_script_args(args, self._KIND)
            except ValueError as exc:
                raise self._param_error("scriptArgs", str(exc)) from None
        return args

    def _script_stage(self, table: Any) -> Any:
        script_args = self._script_args()
        try:
            output_schema = parse_schema(self._output_schema_str())
        except ValueError as exc:
            raise self._param_error("outputSchemaStr", str(exc)) from exc
        selected = self.getSelectedCols()
        if selected:
            available = schema_of_table(table).names
            missing = [name for name in selected if name not in available]
            if missing:
                raise self._param_error(
                    "selectedCols", f"names {missing}, not columns of the input; its columns "
                    f"are {list(available)}"
                )
            table = table.select(*[_col(name) for name in selected])
        files, main = self._files()
        workers, ps = self._layout(_env.get_parallelism())
        plan = plan_stage(
            self,
            table._t_env,
            kind=self._KIND,
            input_schema=schema_of_table(table).to_string(),
            output_schema=output_schema.to_string(),
            num_workers=workers,
            num_ps=ps,
            user_files=files,
            main_script=main,
            user_params_json=self.getUserParams(),
            print_process_info=_env.is_print_process_info(),
            script_args=script_args,
        )
        self._track_stage(plan.stage)
        parallelism = _env.get_parallelism()
        choice = choose_path(self, self._KIND, parse_schema(plan.spec.input_schema),
                             output_schema, parallelism, plan.parallelism)
        log_choice(plan, choice)
        if choice.path == COLUMNAR:
            return build_columnar_script(table, plan, output_schema, parallelism)
        return build_stage(table, plan, ScriptHandler(), output_schema, self._flush_policy())


def _col(name: str) -> Any:
    from pyflink.table.expressions import col

    return col(name)


class TensorFlowBatchOp(_ScriptOperator, BatchOperator):
    """Runs a TensorFlow script over a batch table (Alink's TensorFlowBatchOp)."""

    PARAMS = (*SCRIPT_PARAMS, output_schema_param("model_id long, model_info string"))


class TensorFlow2BatchOp(TensorFlowBatchOp):
    """The same operator as :class:`TensorFlowBatchOp` (Alink kept both names)."""


class TensorFlowStreamOp(_ScriptOperator, StreamOperator):
    """Runs a TensorFlow script over a stream (Alink's TensorFlowStreamOp).

    The script's ``task_config.dataset_fn()`` is fed live; what it writes reaches Flink within
    about two ``flushIntervalMs`` (the next flush, then the end of PyFlink's bundle) even while
    no input arrives.
    """

    _KIND: ClassVar[int] = task_spec_pb2.STREAM
    PARAMS = (*SCRIPT_PARAMS, output_schema_param("id long, score double"), FLUSH_PARAM)

    def _flush_policy(self) -> FlushPolicy | None:
        return FlushPolicy(self.getFlushIntervalMs())


class TensorFlow2StreamOp(TensorFlowStreamOp):
    """The same operator as :class:`TensorFlowStreamOp` (Alink kept both names)."""


class TFTableModelTrainBatchOp(_ScriptOperator, BatchOperator):
    """Trains a model with a TensorFlow script and outputs it as Alink model rows.

    The script's ``main(task_config)`` exports a SavedModel into
    ``task_config.saved_model_dir`` (directly, or in one sub-directory; a script run with
    ``scriptArgs`` exports into ``{saved_model_dir}``); the chief's becomes
    the output: ``model_id long, model_info string``, row 0 ``(0, "model.zip")`` and then
    base64 chunks of 1 MiB of the zipped SavedModel.
    """

    _KIND: ClassVar[int] = task_spec_pb2.TRAIN
    PARAMS = SCRIPT_PARAMS

    def _output_schema_str(self) -> str:
        return MODEL_SCHEMA


class TF2TableModelTrainBatchOp(TFTableModelTrainBatchOp):
    """The same operator as :class:`TFTableModelTrainBatchOp` (Alink kept both names)."""
