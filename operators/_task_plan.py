"""What every subtask of a TF operator needs to start its TF process (built in the driver).

A :class:`TaskPlan` is pickled into the Flink function, so it holds plain values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TaskPlan"]


@dataclass(frozen=True)
class TaskPlan:
    """Immutable description of a TF stage, shared by all its subtasks.

    Attributes:
        operator_name: the operator's class name, used in errors and logs.
        mode: a ``bridge.protos.task_spec_pb2.TaskMode`` value.
        input_schema: schema string of the rows fed to TF (after ``selectedCols``).
        output_schema: the declared output schema string.
        num_workers: workers (chief included); subtasks beyond them are parameter servers.
        num_ps: parameter servers.
        user_files: absolute paths copied into each TF process's work dir.
        main_script: file name (within the work dir) of the script that defines ``main``.
        user_params_json: the ``userParams`` JSON object.
        python_executable: interpreter that runs ``python -m akdl.runner``.
        intra_op_parallelism: TF intra-op threads; 0 leaves TF's default.
        print_process_info: echo spawn commands, TF_CONFIG and process output to stdout.
        rpc_timeout_s: how long any single wait on a peer may take.
        grace_s: SIGTERM-to-SIGKILL grace period when stopping a TF process.
        work_dir_root: parent directory of the private work dirs; empty for the system temp dir.
        coordinator_address: the job coordinator's ``host:port``; empty when the task is alone.
        coordinator_token: the token its calls must carry.
        rendezvous_timeout_s: how long the tasks may take to all register.
        properties: extra free-form properties handed to ``TFContext.properties``.
        model_file: a zipped SavedModel written to ``model.zip`` in each work dir (predict
            stages fed from a model table); empty otherwise.
        flush_interval_ms: stream stages only: how often buffered input is sent to the TF
            process and its output drained into Flink while no row arrives; 0 in batch stages.
    """

    operator_name: str
    mode: int
    input_schema: str
    output_schema: str
    num_workers: int
    num_ps: int
    user_files: tuple[str, ...]
    main_script: str
    user_params_json: str
    python_executable: str
    intra_op_parallelism: int = 0
    print_process_info: bool = False
    rpc_timeout_s: float = 600.0
    grace_s: float = 5.0
    work_dir_root: str = ""
    coordinator_address: str = ""
    coordinator_token: str = ""
    rendezvous_timeout_s: float = 300.0
    properties: dict[str, str] = field(default_factory=dict)
    flush_interval_ms: int = 0
    model_file: bytes = b""

    @property
    def parallelism(self) -> int:
        """Subtasks of the stage: one TF process each."""
        return self.num_workers + self.num_ps
