"""The Flink environments operators run in: the default local one, or one handed in.

Runs in the Flink driver (the user's PyFlink program).

An :class:`AkdlEnvironment` owns what belongs to one environment: its settings, its batch and
stream table environments, the sinks that ``StreamOperator.print()`` registered, and the
:class:`~operators._jobs.JobRunner` that gives each running job its TF stages' coordinators.
The module functions (`use_local_env`, `get_batch_table_env`, ...) work on the current default
instance, as Alink's ``useLocalEnv`` does.

Batch operators use a ``StreamTableEnvironment`` over a ``StreamExecutionEnvironment`` in
``RuntimeExecutionMode.BATCH``; stream operators use a separate pair in ``STREAMING`` mode,
created on first use. Both share the parallelism given to `use_local_env`. Without any call,
the first operator that needs an environment gets a local one of parallelism 1, so Alink
programs that never call ``useLocalEnv`` run as written.

Each ``execute`` / ``collect`` / ``print`` of a local environment starts an embedded Flink
mini-cluster for that one job (a few seconds).

**Python worker execution mode.** PyFlink reads the environment variable
``_python_worker_execution_mode`` when an environment is *created*:

* unset or ``"loopback"`` (the local default): Python functions run as threads of the
  driver process, served by a loopback gRPC worker pool;
* ``"process"``: one Python worker process per slot, spawned by the TaskManager with the
  interpreter in ``python.executable`` (Flink's default is ``python`` from ``PATH``). This is
  what a real cluster does, and measured faster for Python-heavy jobs (about 77k against
  44k rows/s for a bare map at parallelism 2 on this project's machine).

`use_local_env` keeps the loopback default; ``config={"python_worker_mode": "process"}``
selects process mode and, unless the config sets ``python.executable``, points it at the
driver's own interpreter.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyflink.common import Configuration
from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from pyflink.table import EnvironmentSettings, StreamTableEnvironment, Table, TableDescriptor

from bridge.errors import ParamError
from operators._jobs import JobRunner

__all__ = [
    "AkdlEnvironment",
    "current_environment",
    "get_batch_env",
    "get_batch_table_env",
    "get_env",
    "get_parallelism",
    "get_stream_env",
    "get_stream_table_env",
    "is_print_process_info",
    "is_cluster_environment",
    "useLocalEnv",
    "use_local_env",
    "use_remote_env",
    "use_table_env",
]

DEBUG_MODE_KEY = "debug_mode"
WORKER_MODE_KEY = "python_worker_mode"
_WORKER_MODE_ENV_VAR = "_python_worker_execution_mode"
_WORKER_MODES = ("loopback", "process")


@dataclass
class _EnvPair:
    env: StreamExecutionEnvironment
    t_env: StreamTableEnvironment


@dataclass
class AkdlEnvironment:
    """One environment's settings, table environments, pending sinks and running jobs.

    The table environments are built from the settings on first use.

    Attributes:
        parallelism: the default parallelism of operators.
        flink_config: Flink options set on both table environments.
        print_process_info: whether TF processes echo diagnostics (debug mode).
        worker_mode: PyFlink's Python worker execution mode, or ``None`` for its default.
        batch: the batch table environment, once built or handed in.
        stream: the stream table environment, once built or handed in.
        pending_sinks: sinks registered by ``print()`` per kind (True: stream), as
            ``(table, descriptor, stages)``; ``execute()`` runs them.
        jobs: starts and stops the coordinators of the jobs run in this environment.
    """

    parallelism: int = 1
    flink_config: dict[str, str] = field(default_factory=dict)
    print_process_info: bool = False
    worker_mode: str | None = None
    batch: _EnvPair | None = None
    stream: _EnvPair | None = None
    pending_sinks: dict[bool, list[tuple[Table, TableDescriptor, frozenset]]] = field(
        default_factory=lambda: {False: [], True: []}
    )
    jobs: JobRunner = field(default_factory=lambda: JobRunner(warm=True))
    parallelism_from_context: bool = True
    remote: tuple[str, int] | None = None

    def pair(self, stream: bool) -> _EnvPair:
        """The batch or stream pair, created on first use (see `_create_pair`)."""
        if stream:
            if self.stream is None:
                self.stream = _create_pair(self, stream=True)
            return self.stream
        if self.batch is None:
            self.batch = _create_pair(self, stream=False)
        return self.batch


# The process-wide default environment, as in Alink's ``useLocalEnv``.
_current = AkdlEnvironment()


def current_environment() -> AkdlEnvironment:
    """The default environment operators use now.

    Returns:
        The `AkdlEnvironment` set by the last `use_local_env` (or a local one of parallelism 1).
    """
    return _current


def use_local_env(parallelism: int, config: Mapping[str, Any] | None = None) -> None:
    """Makes a new embedded local (mini-cluster) environment the default for all operators.

    Operators created before this call but not yet materialized also use it; tables already
    built stay in their old environment.

    Args:
        parallelism: the default parallelism of both the batch and the stream environment.
        config: optional settings. ``"debug_mode": True`` turns on print-process-info (see
            `is_print_process_info`); ``"python_worker_mode": "loopback" | "process"``
            chooses how Python functions run (see the module docstring); every other key is
            set verbatim as a Flink configuration option, e.g.
            ``{"python.fn-execution.bundle.time": "100"}`` (values are turned into strings,
            booleans as ``true``/``false``).

    Raises:
        ParamError: the parallelism is not a positive int, or a config value is unusable.
    """
    global _current
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
        raise ParamError(
            "use_local_env", "parallelism", f"must be an int >= 1, got {parallelism!r}"
        )
    settings = AkdlEnvironment(parallelism=parallelism, parallelism_from_context=False)
    _apply_config(settings, config, "use_local_env")
    if settings.worker_mode == "process":
        settings.flink_config.setdefault("python.executable", sys.executable)
        settings.jobs.warm = False  # the subtasks run in other processes
    settings.batch = _create_pair(settings, stream=False)
    _current = settings


useLocalEnv = use_local_env  # Alink's spelling


def use_remote_env(
    host: str, port: int, parallelism: int | None = None,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Makes a running Flink cluster (its JobManager's REST endpoint) the default environment.

    Jobs are submitted to the cluster for real, from this plain Python program (no ``flink
    run``). Its TaskManagers run the Python functions in process mode, with their own
    ``python.executable``, which needs akdl and TensorFlow (see docs/cluster.md). The
    flink-python jar of the installed wheel ships with every job.

    Args:
        host: the JobManager's host, e.g. ``"localhost"``.
        port: its REST port, e.g. 8081.
        parallelism: the default parallelism; default: the cluster's ``parallelism.default``.
        config: Flink options set on the jobs, as for `use_local_env` (``debug_mode`` too;
            ``python_worker_mode`` does not apply: a cluster runs process mode).

    Raises:
        ParamError: a bad host, port, parallelism or config value.
    """
    global _current
    if not host or not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ParamError("use_remote_env", "host/port",
                         f"must be a host name and a port in 1..65535, got {host!r}:{port!r}")
    if parallelism is not None and (not isinstance(parallelism, int) or parallelism < 1):
        raise ParamError(
            "use_remote_env", "parallelism", f"must be an int >= 1, got {parallelism!r}"
        )
    settings = AkdlEnvironment(parallelism=parallelism or 1,
                               parallelism_from_context=parallelism is None,
                               remote=(host, port))
    _apply_config(settings, config, "use_remote_env")
    if settings.worker_mode is not None:
        raise ParamError("use_remote_env", WORKER_MODE_KEY,
                         "does not apply: a cluster runs Python functions in process mode")
    settings.jobs.warm = False
    settings.batch = _create_pair(settings, stream=False)
    _current = settings


def _apply_config(settings: AkdlEnvironment, config: Mapping[str, Any] | None,
                  caller: str) -> None:
    for key, value in dict(config or {}).items():
        if key == DEBUG_MODE_KEY:
            settings.print_process_info = bool(value)
        elif key == WORKER_MODE_KEY:
            if value not in _WORKER_MODES:
                raise ParamError(
                    caller, key, f"must be one of {_WORKER_MODES}, got {value!r}"
                )
            settings.worker_mode = value
        else:
            settings.flink_config[str(key)] = _config_string(value)


def use_table_env(
    t_env: StreamTableEnvironment, *, stream: bool = False, parallelism: int | None = None
) -> None:
    """Hands in an existing ``StreamTableEnvironment`` for batch (default) or stream operators.

    The other kind of environment is left as it is. Print-process-info and the worker mode are
    kept from the current settings.

    Args:
        t_env: the table environment. For batch operators it should be in batch mode.
        stream: use it for stream operators instead of batch ones.
        parallelism: the parallelism operators should assume; default: the environment's own
            (its ``StreamExecutionEnvironment.get_parallelism()``).

    Raises:
        ParamError: ``t_env`` is not a ``StreamTableEnvironment``.
    """
    if not isinstance(t_env, StreamTableEnvironment):
        raise ParamError(
            "use_table_env",
            "t_env",
            f"must be a StreamTableEnvironment, got {type(t_env).__name__}",
        )
    env = StreamExecutionEnvironment(t_env._j_tenv.execEnv())
    pair = _EnvPair(env, t_env)
    _current.jobs.warm = False  # where its subtasks run is not known
    if stream:
        _current.stream = pair
    else:
        _current.batch = pair
    _current.parallelism = parallelism if parallelism is not None else env.get_parallelism()


def get_batch_table_env() -> StreamTableEnvironment:
    """The table environment of batch operators, created (parallelism 1) if none is set.

    Returns:
        A ``StreamTableEnvironment`` in batch mode.
    """
    return _batch().t_env


def get_batch_env() -> StreamExecutionEnvironment:
    """The execution environment under `get_batch_table_env`, in ``BATCH`` runtime mode.

    Returns:
        The ``StreamExecutionEnvironment``.
    """
    return _batch().env


def get_stream_table_env() -> StreamTableEnvironment:
    """The table environment of stream operators, created on first use.

    Returns:
        A ``StreamTableEnvironment`` in streaming mode.
    """
    return _stream().t_env


def get_stream_env() -> StreamExecutionEnvironment:
    """The execution environment under `get_stream_table_env`, in ``STREAMING`` mode.

    Returns:
        The ``StreamExecutionEnvironment``.
    """
    return _stream().env


def get_env(stream: bool = False) -> StreamExecutionEnvironment:
    """The batch (default) or stream execution environment.

    Args:
        stream: return the stream one.

    Returns:
        The ``StreamExecutionEnvironment``.
    """
    return get_stream_env() if stream else get_batch_env()


def get_parallelism() -> int:
    """The default parallelism operators run with: 1 unless `use_local_env` said otherwise.

    Returns:
        The parallelism.
    """
    return _current.parallelism


def is_print_process_info() -> bool:
    """Whether ``use_local_env(..., config={"debug_mode": True})`` asked for process diagnostics.

    Returns:
        True when spawn commands, TF_CONFIG and process output should be printed.
    """
    return _current.print_process_info


def _batch() -> _EnvPair:
    return _current.pair(stream=False)


def _stream() -> _EnvPair:
    return _current.pair(stream=True)


def _config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextlib.contextmanager
def _worker_mode(mode: str | None) -> Iterator[None]:
    """Sets PyFlink's worker-mode variable while an environment is being created."""
    if mode is None:
        yield
        return
    old = os.environ.get(_WORKER_MODE_ENV_VAR)
    os.environ[_WORKER_MODE_ENV_VAR] = mode
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(_WORKER_MODE_ENV_VAR, None)
        else:
            os.environ[_WORKER_MODE_ENV_VAR] = old


# Defaults of the local batch environment, each overridable through use_local_env's config.
# A TF stage gives every subtask exactly one key, so BATCH mode's sort of keyed input by key
# (and the single-key state backend that relies on it) is pure cost: about 10% of the feed
# throughput here (scripts/bench_feed.py). End-of-input timers still fire after the last row.
BATCH_DEFAULTS = {
    "execution.sorted-inputs.enabled": "false",
    "execution.batch-state-backend.enabled": "false",
    # The columnar path sorts each worker's rows; a sort buffer holds records of at most about a
    # third of the slot's managed memory, so the mini-cluster's 128 MiB refused a 64 MiB value.
    "taskmanager.memory.managed.size": "512m",
}

# Defaults of both local environments. collect() moves results in batches of at most this
# size, and a single larger row fails the job, so it bounds the largest collectable value.
COMMON_DEFAULTS = {
    "collect-sink.batch-size.max": "256mb",
}


def _create_pair(settings: AkdlEnvironment, stream: bool) -> _EnvPair:
    """A table environment over the context's execution environment, or the remote one.

    Under ``flink run`` the context environment is the cluster's (``execution.target`` is not
    local): then the TF processes run beside TaskManagers, so no warm pool is kept here, and
    unless the program chose a parallelism, the context's (``-p`` or the cluster's default) is
    the operators' default.
    """
    conf = Configuration()
    defaults = COMMON_DEFAULTS if stream else {**COMMON_DEFAULTS, **BATCH_DEFAULTS}
    options = {**defaults, **settings.flink_config}
    for key, value in options.items():
        conf.set_string(key, value)
    builder = EnvironmentSettings.new_instance()
    builder = builder.in_streaming_mode() if stream else builder.in_batch_mode()
    with _worker_mode(settings.worker_mode):
        if settings.remote is not None:
            env = _remote_execution_environment(*settings.remote, conf)
        else:
            env = StreamExecutionEnvironment.get_execution_environment(conf)
        env.set_runtime_mode(
            RuntimeExecutionMode.STREAMING if stream else RuntimeExecutionMode.BATCH
        )
        if is_cluster_environment(env):
            settings.jobs.warm = False
            if settings.parallelism_from_context and env.get_parallelism() > 0:
                settings.parallelism = env.get_parallelism()
        env.set_parallelism(settings.parallelism)
        t_env = StreamTableEnvironment.create(env, builder.with_configuration(conf).build())
    for key, value in options.items():
        t_env.get_config().set(key, value)
    return _EnvPair(env, t_env)


def is_cluster_environment(env: StreamExecutionEnvironment) -> bool:
    """Whether jobs of ``env`` run on a real cluster (``execution.target`` is not local).

    Args:
        env: an execution environment.

    Returns:
        True under ``flink run`` against a cluster, or for `use_remote_env`.
    """
    from pyflink.util.java_utils import get_j_env_configuration

    j_config = get_j_env_configuration(env._j_stream_execution_environment)
    target = j_config.getString("execution.target", "local") or "local"
    return target not in ("local", "minicluster")


def _remote_execution_environment(host: str, port: int,
                                  conf: Configuration) -> StreamExecutionEnvironment:
    """A Java ``createRemoteEnvironment`` wrapped for Python, shipping the flink-python jar.

    ``execution.target: remote`` alone would silently run a local mini-cluster.
    """
    import glob

    import pyflink
    from pyflink.java_gateway import get_gateway

    gateway = get_gateway()
    jars = sorted(glob.glob(os.path.join(os.path.dirname(pyflink.__file__), "opt",
                                         "flink-python-*.jar")))
    j_jars = gateway.new_array(gateway.jvm.String, len(jars))
    for i, jar in enumerate(jars):
        j_jars[i] = jar
    j_env_class = gateway.jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment
    j_env = j_env_class.createRemoteEnvironment(host, port, conf._j_configuration, j_jars)
    return StreamExecutionEnvironment(j_env)
