"""The parameters of the TF operators, each declared once (runs in the Flink driver).

`COMMON_PARAMS` are shared by every operator that runs TF processes (script, train and predict);
`SCRIPT_PARAMS` and `PREDICT_PARAMS` add what only those kinds take.
"""

from __future__ import annotations

from bridge.name_lists import parse_name_list
from bridge.predict_spec import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_GRAPH_DEF_TAG,
    DEFAULT_SIGNATURE_DEF_KEY,
    DEFAULT_TENSOR_FORMAT,
    TENSOR_FORMATS,
)
from bridge.script_args import parse_script_args
from operators.params import Param, at_least, json_dict_string, one_of, unsupported

__all__ = [
    "COMMON_PARAMS",
    "FLUSH_PARAM",
    "MODEL_PATH_PARAM",
    "MODEL_STREAM_PARAMS",
    "PREDICT_PARAMS",
    "SCRIPT_PARAMS",
    "output_schema_param",
]

COMMON_PARAMS = (
    Param("numWorkers", int, validate=at_least(1),
          doc="TF processes (workers, chief included; default: every subtask of the "
              "parallelism that is not a parameter server)"),
    Param("pythonEnv", str, default="",
          doc="Python interpreter, or venv directory, that runs the TF processes"),
    Param("intraOpParallelism", int, default=0, validate=at_least(0),
          doc="TF intra-op threads per process (0: TF's default)"),
    Param("selectedCols", list, convert=parse_name_list,
          doc="input columns fed to TF, in order (default: all); a list, a JSON list or "
              "comma-separated names"),
    Param("printProcessInfo", bool, default=False,
          doc="echo spawn commands, TF_CONFIG and each TF process's output to stdout"),
    Param("rpcTimeoutS", float, default=600.0, validate=at_least(1),
          doc="longest wait on a peer (TF process, channel) before the job fails"),
    Param("rendezvousTimeoutS", float, default=300.0, validate=at_least(1),
          doc="how long all TF processes of a stage may take to start and register"),
    Param("coordinator", str, default="",
          doc="the 'address token' line printed by a standalone coordinator (python -m "
              "bridge.coordinator): the stage uses it instead of one in this program, so a "
              "detached job (flink run -d) outlives the program"),
    Param("taskTimeoutS", float, default=0.0, validate=at_least(0),
          doc="longest a TF process may run, from its start (0: no limit); on expiry the job "
              "fails with the stacks of the process's threads, and its peers are aborted"),
    Param("workDirRoot", str, default="",
          doc="directory under which each TF process gets its private work dir (default: "
              "the system temp dir); it must have room for the spooled input"),
    Param("keepWorkDir", bool, default=False,
          doc="keep every work dir whole after its task, the spooled input included (by "
              "default a successful task's work dir is removed, and a failed one's is kept "
              "without its spooled input)"),
    Param("dataPath", str, default="auto", validate=one_of(("auto", "columnar", "rows")),
          doc='how rows cross into Python: "columnar" (Arrow batches through vectorized '
              'functions), "rows" (one row at a time), or "auto": columnar where it can carry '
              "the stage; the log says which path a stage took and why"),
)

SCRIPT_PARAMS = (
    *COMMON_PARAMS,
    Param("userFiles", list, default=[], convert=parse_name_list,
          doc="local paths of the Python files copied into each TF process's work dir"),
    Param("mainScriptFile", str, required=True,
          doc="the user file that defines main(task_config), or that runs as __main__ when "
              "scriptArgs is set"),
    Param("userParams", str, default="{}", convert=json_dict_string,
          doc="JSON object handed to the script as task_config.user_params"),
    Param("numPSs", int, validate=at_least(0), aliases=("num_ps",),
          doc="TF parameter servers (default 0)"),
    Param("scriptArgs", list, convert=parse_script_args,
          doc="set (even to []): run mainScriptFile unmodified as __main__ with these "
              "arguments in sys.argv, {placeholders} filled (e.g. {dataset_file}, "
              "{saved_model_dir}); a list, a JSON list or one command-line string"),
)

PREDICT_PARAMS = (
    *COMMON_PARAMS,
    Param("outputSchemaStr", str, required=True,
          doc='the prediction columns and their types, e.g. "probability double"'),
    Param("reservedCols", list, convert=parse_name_list,
          doc="input columns kept in the output, before the predictions (default: all)"),
    Param("signatureDefKey", str, default=DEFAULT_SIGNATURE_DEF_KEY,
          doc="the SavedModel signature to run"),
    Param("inputSignatureDefs", list, convert=parse_name_list,
          doc="signature input fed by each selected column (default: the column names)"),
    Param("outputSignatureDefs", list, convert=parse_name_list,
          doc="signature output read by each output column (default: the column names)"),
    Param("graphDefTag", str, default=DEFAULT_GRAPH_DEF_TAG,
          doc="the MetaGraph tag(s) to load, comma-separated; empty means the default"),
    Param("batchSize", int, default=DEFAULT_BATCH_SIZE, validate=at_least(1),
          doc="rows per call of the model"),
    Param("tensorStringFormat", str, default=DEFAULT_TENSOR_FORMAT,
          validate=one_of(TENSOR_FORMATS),
          doc='how a tensor is written into a STRING output column: "alink" (values separated '
              'by spaces, a $d1,d2$ shape prefix for rows of rank 2 or more) or "json"'),
)

MODEL_PATH_PARAM = Param(
    "modelPath", str, required=True, doc="a SavedModel directory, or a .zip / .tar.gz of one"
)

FLUSH_PARAM = Param(
    "flushIntervalMs", int, default=100, validate=at_least(1),
    doc="how often buffered input is sent to TF and its output drained into Flink while no row "
        "arrives; also caps python.fn-execution.bundle.time",
)


_MODEL_STREAM_REASON = (
    "Alink's model streams (a model reloaded while the stream runs) are not implemented; "
    "give the model as TFTableModelPredictStreamOp(model_op) or linkFrom(model_op, stream)"
)
MODEL_STREAM_PARAMS = tuple(
    Param(name, kind, validate=unsupported(_MODEL_STREAM_REASON),
          doc="Alink's model-stream parameter; not supported (setting it raises)")
    for name, kind in (
        ("modelFilePath", str),
        ("modelStreamFilePath", str),
        ("modelStreamScanInterval", int),
        ("modelStreamStartTime", str),
    )
)


def output_schema_param(example: str) -> Param:
    """The required ``outputSchemaStr`` of a script operator, with an example in its doc."""
    return Param("outputSchemaStr", str, required=True,
                 doc=f'schema of the rows the script writes, e.g. "{example}"')
