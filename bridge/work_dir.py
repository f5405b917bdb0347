"""The names of akdl's own files in a task's work dir (both processes).

The Flink subtask creates the work dir and writes the task spec and the user's files into it;
the TF process writes its spooled shard, the SavedModel it exports and, when ``taskTimeoutS``
expires, its threads' stacks. User files may not take any of these names.
"""

from __future__ import annotations

__all__ = [
    "DATASET_FILE",
    "MODEL_FILE",
    "OWNER_FILE",
    "RESERVED_NAMES",
    "SAVED_MODEL_DIR",
    "TASK_SPEC_FILE",
    "TIMEOUT_STACKS_FILE",
]

#: The serialized TaskSpec the TF process starts from.
TASK_SPEC_FILE = "task_spec.pb"
#: The spooled input shard of batch and train tasks.
DATASET_FILE = "dataset.tfrecords"
#: Where a train task's script exports its SavedModel.
SAVED_MODEL_DIR = "saved_model"
#: A TF process that outlives ``taskTimeoutS`` dumps its threads' stacks here, then exits.
TIMEOUT_STACKS_FILE = "timeout_stacks.txt"
#: The pid (and start time) of the process that created the work dir, for the stale sweep.
OWNER_FILE = "akdl_owner"
#: The zipped model of a table-model predict task.
MODEL_FILE = "model.zip"

RESERVED_NAMES = frozenset(
    (TASK_SPEC_FILE, DATASET_FILE, SAVED_MODEL_DIR, TIMEOUT_STACKS_FILE, OWNER_FILE, MODEL_FILE)
)
