"""Running a job's TF stages: their coordinators live exactly as long as the job.

Runs in the Flink driver, except :func:`stage_coordinator`, which the stage's Flink function
calls in the worker.

When akdl runs a job (``collect``, ``print``, ``execute``), :meth:`JobRunner.job` starts one
coordinator per TF stage of that job and hands each stage its coordinator through Flink's global
job parameters (``akdl.stage.<stage id>``), which every subtask reads in ``open``. When the job
ends, its coordinators stop. Cancelling a job aborts the rounds of its own coordinators only.

A stage run by a job akdl did not start (a plain PyFlink ``execute`` of a table taken with
``getTable()``) finds no coordinator: a single-task stage then runs alone, and a stage of
several tasks fails at once with a message saying how to run it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from bridge.addresses import coordinator_advertised_host, coordinator_bind_host
from bridge.coordinator.server import CoordinatorServer
from bridge.errors import AkdlError
from bridge.metrics import MetricRecord
from operators._mlflow_tracking import log_to_active_run
from operators._warm_pool import WarmPool

__all__ = [
    "JOB_PARAMETER_PREFIX",
    "Job",
    "JobRunner",
    "StageDescription",
    "StageHandle",
    "stage_coordinator",
]

JOB_PARAMETER_PREFIX = "akdl.stage."
_log = logging.getLogger("akdl.jobs")


@dataclass(frozen=True)
class StageHandle:
    """The identity of one TF stage in the job graph.

    Attributes:
        stage_id: unique in the driver, e.g. ``TensorFlowBatchOp-3f2a9c0d1e2b``.
        num_workers: workers, the chief included.
        num_ps: parameter servers.
        python_executable: the interpreter of its TF processes (for warm processes).
        coordinator: ``"address token"`` of a standalone coordinator the stage uses, or
            ``""`` for one that the job's driver runs.
    """

    stage_id: str
    num_workers: int
    num_ps: int
    python_executable: str = ""
    coordinator: str = ""

    @property
    def job_parameter(self) -> str:
        """The global job parameter that carries this stage's coordinator."""
        return JOB_PARAMETER_PREFIX + self.stage_id


def _encode(address: str, token: str) -> str:
    # Flink's map options split on ':' and ','; hex keeps host:port and token intact.
    return f"{address} {token}".encode().hex()


def _decode(value: str) -> tuple[str, str]:
    address, token = bytes.fromhex(value).decode().split(" ")
    return address, token


def stage_coordinator(runtime_context: Any, stage: StageHandle) -> tuple[str, str] | None:
    """The ``(address, token)`` of the stage's coordinator for this run; ``None`` if none.

    Called in the stage's Flink function, with its runtime context.
    """
    value = runtime_context.get_job_parameter(stage.job_parameter, "")
    return _decode(value) if value else None


class Job:
    """One running job's coordinators. Lifetime: the job, as :meth:`JobRunner.job` yields it."""

    def __init__(self, servers: dict[StageHandle, CoordinatorServer]):
        self._servers = servers

    def cancel(self, reason: str) -> None:
        """End the TF processes of this job's stages: their rounds are aborted.

        Flink does not always call a Python function's ``close`` when a job is cancelled, so
        the driver tells the TF processes itself, through their coordinators.
        """
        for server in self._servers.values():
            server.cancel(reason)


@dataclass(frozen=True)
class StageDescription:
    """What a TF stage's operator was, for reporting its metrics.

    Attributes:
        operator_name: the operator's class name.
        params: its parameters (camelCase name to value).
    """

    operator_name: str
    params: dict[str, Any]


class JobRunner:
    """Starts and stops the coordinators of the jobs one environment runs.

    It also keeps the metrics each stage's tasks logged in the stage's last job
    (:meth:`metrics_of`), and hands them to an active MLflow run when the job ends.

    Args:
        warm: also start each stage's TF processes when a job starts, for its subtasks to
            adopt (`operators._warm_pool`); only right when the subtasks run in this process
            (local loopback mode).

    Lifetime: that of its environment; :meth:`close` stops whatever still runs.
    """

    def __init__(self, warm: bool = False) -> None:
        self.warm = warm
        self._lock = threading.Lock()
        self._running: dict[StageHandle, CoordinatorServer] = {}
        self._external: dict[StageHandle, str] = {}
        self._metrics: dict[str, list[MetricRecord]] = {}
        self._descriptions: dict[str, StageDescription] = {}

    def describe(self, stage: StageHandle, description: StageDescription) -> None:
        """Record what operator a stage belongs to (its metrics are reported under it)."""
        self._descriptions[stage.stage_id] = description

    def metrics_of(self, stage: StageHandle) -> list[MetricRecord]:
        """The metric values the stage's tasks logged in its last job that ended.

        Raises:
            AkdlError: the stage has not run in a job of this driver yet, or it used a
                standalone coordinator (whose log has the metrics).
        """
        if stage.coordinator:
            raise AkdlError(
                f"{stage.stage_id} used a standalone coordinator; its metrics are printed in "
                "that coordinator's output, the driver has none"
            )
        records = self._metrics.get(stage.stage_id)
        if records is None:
            raise AkdlError(
                f"{stage.stage_id} has not run yet: its metrics exist once a job that runs it "
                "(collect(), print(), execute()) has ended"
            )
        return records

    @contextlib.contextmanager
    def job(self, t_env: Any, stages: Iterable[StageHandle]) -> Iterator[Job]:
        """Start a coordinator per stage and publish them to the job's functions.

        Args:
            t_env: the table environment whose configuration the job is built from.
            stages: the TF stages in the job.

        Yields:
            The job; its coordinators stop when the block ends.

        Raises:
            AkdlError: a stage is already running in another job of this driver.
        """
        stages = sorted(set(stages), key=lambda s: s.stage_id)
        servers: dict[StageHandle, CoordinatorServer] = {}
        pools: list[WarmPool] = []
        try:
            with self._lock:
                busy = [s.stage_id for s in stages if s in self._running]
                if busy:
                    raise AkdlError(
                        f"TF stage(s) {busy} already run in another job of this driver; a "
                        "stage runs in one job at a time"
                    )
                for stage in stages:
                    if stage.coordinator:
                        continue  # a standalone one, published as it is
                    servers[stage] = CoordinatorServer(
                        stage.num_workers, stage.num_ps, host=coordinator_bind_host(),
                        advertised_host=coordinator_advertised_host())
                self._running.update(servers)
                self._external.update({s: s.coordinator for s in stages if s.coordinator})
                self._publish(t_env)
            if self.warm:
                pools += [WarmPool(s.stage_id, s.python_executable, s.num_workers + s.num_ps)
                          for s in stages if s.python_executable]
            yield Job(servers)
        finally:
            for pool in pools:
                pool.close()
            for server in servers.values():
                # A task still running (its job failed, and Flink skipped its close()) hears
                # ABORT and exits; a finished round stays as it ended.
                server.cancel("the job ended")
            for server in servers.values():
                server.close()
            self._keep_metrics(servers)
            with self._lock:
                for stage in servers:
                    self._running.pop(stage, None)
                for stage in stages:
                    self._external.pop(stage, None)
                self._publish(t_env)

    def _keep_metrics(self, servers: dict[StageHandle, CoordinatorServer]) -> None:
        """Keep each stage's metrics, and log them to an active MLflow run."""
        for stage, server in servers.items():
            self._metrics[stage.stage_id] = server.metrics.records()
        log_to_active_run([
            (self._descriptions.get(s.stage_id) or StageDescription(s.stage_id, {}),
             self._metrics[s.stage_id])
            for s in servers
        ])

    def _publish(self, t_env: Any) -> None:
        """Set the running stages' coordinators as global job parameters; caller holds the lock.

        Parameters of other stages and the user's own are kept.
        """
        from pyflink.java_gateway import get_gateway

        option = get_gateway().jvm.org.apache.flink.configuration.PipelineOptions
        j_config = t_env.get_config()._j_table_config
        current = j_config.getOptional(option.GLOBAL_JOB_PARAMETERS).orElse(None)
        parameters = {
            k: v for k, v in dict(current or {}).items()
            if not k.startswith(JOB_PARAMETER_PREFIX)
        }
        for stage, server in self._running.items():
            parameters[stage.job_parameter] = _encode(server.address, server.token)
        for stage, line in self._external.items():
            parameters[stage.job_parameter] = _encode(*line.split())
        j_map = get_gateway().jvm.java.util.HashMap()
        for key, value in parameters.items():
            j_map.put(key, value)
        j_config.set(option.GLOBAL_JOB_PARAMETERS, j_map)

    def close(self) -> None:
        """Stop every coordinator still running."""
        with self._lock:
            servers = list(self._running.values())
            self._running.clear()
        for server in servers:
            server.close()
