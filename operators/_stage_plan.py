"""Planning a TF stage: everything its subtasks need, checked and built once in the driver.

Every TF operator (script, train, predict) funnels into :func:`plan_stage`, which reads the
common parameters of `operators._tf_params`, checks the slots and ``pythonEnv``, reads the user
files, and returns a :class:`StagePlan`. The plan is pickled into the stage's Flink function, so
it holds plain values and a ``TaskSpec`` template: each subtask copies the template and fills in
only what is its own (task, channel, work dir, coordinator).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bridge.protos import task_spec_pb2
from bridge.work_dir import RESERVED_NAMES
from operators._cluster import cluster_slots, rest_url
from operators._jobs import StageHandle

__all__ = [
    "BUNDLE_TIME_KEY",
    "StagePlan",
    "cap_bundle_time",
    "plan_stage",
    "read_user_files",
    "resolve_python",
]

BUNDLE_TIME_KEY = "python.fn-execution.bundle.time"
# Marks a bundle time that akdl set (not the user), so a later stage may lower it again.
_BUNDLE_TIME_MARK = "akdl.bundle-time-set-by-akdl"
_log = logging.getLogger("akdl.operators")


@dataclass(frozen=True)
class StagePlan:
    """Immutable description of a TF stage, shared by all its subtasks.

    Attributes:
        stage: the stage's identity (its coordinator is found by it at run time).
        spec: the ``TaskSpec`` template: every field that is the same for all subtasks.
        user_files: ``(name, content)`` of each file written into every work dir; the files
            travel with the job, so no driver path need exist where the subtask runs.
        python_executable: interpreter that runs ``python -m akdl.runner``.
        print_process_info: echo spawn commands, TF_CONFIG and process output to stdout.
        grace_s: SIGTERM-to-SIGKILL grace period when stopping a TF process.
        work_dir_root: parent directory of the private work dirs; empty for the system temp dir.
        keep_work_dir: keep every work dir whole after its task (``keepWorkDir``).
    """

    stage: StageHandle
    spec: task_spec_pb2.TaskSpec
    user_files: tuple[tuple[str, bytes], ...] = ()
    python_executable: str = sys.executable
    print_process_info: bool = False
    grace_s: float = 5.0
    work_dir_root: str = ""
    keep_work_dir: bool = False

    @property
    def operator_name(self) -> str:
        """The operator's class name, used in errors and logs."""
        return self.spec.operator_name

    @property
    def num_workers(self) -> int:
        """Workers, the chief included."""
        return self.spec.num_workers

    @property
    def num_ps(self) -> int:
        """Parameter servers."""
        return self.spec.num_ps

    @property
    def parallelism(self) -> int:
        """Subtasks of the stage: one TF process each."""
        return self.spec.num_workers + self.spec.num_ps

    @property
    def needs_coordinator(self) -> bool:
        """Whether the stage's tasks form a cluster; predict tasks run alone without one."""
        return self.parallelism > 1 and self.spec.kind != task_spec_pb2.PREDICT

    @property
    def rpc_timeout_s(self) -> float:
        """How long any single wait on a peer may take."""
        return self.spec.rpc_timeout_s


# How long `pythonEnv` may take to import akdl's runner when it is checked.
_PYTHON_CHECK_S = 20.0


def resolve_python(python_env: str) -> str:
    """The interpreter for TF processes: ``pythonEnv`` as a file or venv dir, else ours."""
    if not python_env:
        return sys.executable
    candidate = os.path.join(python_env, "bin", "python")
    return candidate if os.path.isdir(python_env) else python_env


def check_python(op: Any, python_env: str) -> str:
    """The interpreter of ``pythonEnv``, checked: it exists, runs, and imports ``akdl.runner``.

    Unset, the driver's own interpreter is used unchecked.

    Raises:
        ParamError: naming ``pythonEnv``, what is wrong and the interpreter's own words.
    """
    python = resolve_python(python_env)
    if not python_env:
        return python
    if not os.path.isfile(python):
        raise op._param_error("pythonEnv", f"names {python}, which does not exist")
    if not os.access(python, os.X_OK):
        raise op._param_error("pythonEnv", f"names {python}, which is not executable")
    try:
        done = subprocess.run(
            [python, "-c", "import akdl.runner.task_runner"], capture_output=True,
            timeout=_PYTHON_CHECK_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise op._param_error("pythonEnv", f"= {python} could not be run: {exc}") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise op._param_error(
            "pythonEnv",
            f"= {python} cannot run akdl's TF runner (import akdl.runner failed: "
            f"{' | '.join(said)}); install akdl and its TF extra into that environment",
        )
    return python



def read_user_files(op: Any, paths: Sequence[str]) -> tuple[tuple[str, bytes], ...]:
    """``(base name, content)`` of each user file, read now so the files travel with the job.

    Raises:
        ParamError: a path is a URL or not a readable file, or two files share a base name.
    """
    files: list[tuple[str, bytes]] = []
    for path in paths:
        if "://" in path:
            raise op._param_error("userFiles", f"holds a URL ({path}); give a local path")
        absolute = os.path.abspath(path)
        try:
            with open(absolute, "rb") as f:
                files.append((os.path.basename(absolute), f.read()))
        except OSError as exc:
            raise op._param_error(
                "userFiles", f"names {absolute!r}, which is not a readable file ({exc.strerror})"
            ) from None
    names = [name for name, _ in files]
    doubles = sorted({n for n in names if names.count(n) > 1})
    if doubles:
        raise op._param_error(
            "userFiles", f"holds several files named {doubles}; every work dir keeps one of each"
        )
    ours = sorted(set(names) & RESERVED_NAMES)
    if ours:
        raise op._param_error(
            "userFiles", f"holds {ours}, a name akdl uses for its own files in the work dir "
            f"(reserved: {sorted(RESERVED_NAMES)}); rename the file"
        )
    return tuple(files)


def check_slots(op: Any, t_env: Any, needed: int) -> None:
    """Fail now if the configured slots cannot run every TF process of a stage at once.

    The TF processes of a stage wait for each other at the rendezvous; with fewer slots than
    processes, Flink would run some only after others finish, which never happens.
    """
    from pyflink.util.java_utils import get_j_env_configuration

    j_config = get_j_env_configuration(t_env._j_tenv.execEnv())
    target = j_config.getString("execution.target", "local") or "local"
    if target not in ("local", "minicluster"):
        _check_cluster_slots(op, j_config, needed)
        return
    configured = t_env.get_config().get("taskmanager.numberOfTaskSlots", "")
    if configured and int(configured) < needed:
        raise op._param_error(
            "numWorkers",
            f"+ numPSs = {needed} TF processes must run at once, but the environment has "
            f"taskmanager.numberOfTaskSlots = {configured}; lower numWorkers/numPSs or "
            f"give the task manager at least {needed} slots",
        )


def _coordinator_line(op: Any) -> str:
    """The ``coordinator`` parameter, checked: ``"host:port token"`` or empty."""
    line = op.getCoordinator().strip()
    if line and (len(line.split()) != 2 or ":" not in line.split()[0]):
        raise op._param_error(
            "coordinator", f"must be the 'host:port token' line that python -m "
            f"bridge.coordinator printed, got {line!r}")
    return line


def _check_cluster_slots(op: Any, j_config: Any, needed: int) -> None:
    """The slot check against the cluster itself (its REST API), not the client's config."""
    url = rest_url(j_config)
    slots = cluster_slots(url) if url else None
    if slots is None:
        return
    if slots.total < needed:
        raise op._param_error(
            "numWorkers",
            f"+ numPSs = {needed} TF processes must run at once, but the cluster at {slots.url} "
            f"has {slots.total} task slots in all; lower numWorkers/numPSs or add TaskManagers",
        )
    if slots.available < needed:
        _log.warning("%s: the stage needs %d slots at once and the cluster at %s has %d free "
                     "now; it waits for the rest up to rendezvousTimeoutS",
                     op.__class__.__name__, needed, slots.url, slots.available)


def cap_bundle_time(t_env: Any, flush_interval_ms: int, operator: str) -> None:
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


def plan_stage(
    op: Any,
    t_env: Any,
    *,
    kind: int,
    input_schema: str,
    output_schema: str,
    num_workers: int,
    num_ps: int = 0,
    user_files: tuple[tuple[str, bytes], ...] = (),
    main_script: str = "",
    user_params_json: str = "{}",
    predict: task_spec_pb2.PredictSpec | None = None,
    print_process_info: bool = False,
    script_args: Sequence[str] | None = None,
) -> StagePlan:
    """The plan of a stage of operator ``op``, from its common parameters and these fields.

    The slots of ``t_env`` are checked first.

    Args:
        op: the operator (its common parameters of `operators._tf_params` are read).
        t_env: the table environment the stage runs in.
        kind: a ``task_spec_pb2.TaskKind`` value.
        input_schema: schema string of the rows fed to TF.
        output_schema: schema string of the rows TF writes back.
        num_workers: workers, the chief included.
        num_ps: parameter servers.
        user_files: ``(name, content)`` of the user's files.
        main_script: the file (among ``user_files``) that defines ``main``.
        user_params_json: the ``userParams`` JSON object.
        predict: predict stages: how the SavedModel runs.
        print_process_info: the environment's debug mode.
        script_args: script stages with ``scriptArgs`` set (checked already): the main script
            runs as ``__main__`` with these arguments, placeholders unfilled.

    Raises:
        ParamError: the environment has too few slots, or ``pythonEnv`` cannot run TF tasks.
    """
    check_slots(op, t_env, num_workers + num_ps)
    operator_name = type(op).__name__
    spec = task_spec_pb2.TaskSpec(
        kind=kind,
        main_script=main_script,
        user_params_json=user_params_json,
        input_schema=input_schema,
        output_schema=output_schema,
        num_workers=num_workers,
        num_ps=num_ps,
        intra_op_parallelism=op.getIntraOpParallelism(),
        rpc_timeout_s=op.getRpcTimeoutS(),
        operator_name=operator_name,
        rendezvous_timeout_s=op.getRendezvousTimeoutS(),
        task_timeout_s=op.getTaskTimeoutS(),
    )
    if predict is not None:
        spec.predict.CopyFrom(predict)
    if script_args is not None:
        spec.script_args.SetInParent()  # present even with no arguments
        spec.script_args.args.extend(script_args)
    python = check_python(op, op.getPythonEnv())
    stage = StageHandle(f"{operator_name}-{uuid.uuid4().hex[:12]}", num_workers, num_ps, python,
                        _coordinator_line(op))
    return StagePlan(
        stage=stage,
        spec=spec,
        user_files=user_files,
        python_executable=python,
        print_process_info=op.getPrintProcessInfo() or print_process_info,
        work_dir_root=op.getWorkDirRoot(),
        keep_work_dir=op.getKeepWorkDir(),
    )
