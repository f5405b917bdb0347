"""akdl: TensorFlow scripts inside Apache Flink jobs.

Runs in the TF processes that the Flink operators spawn (and, for the model-row helpers and
`LocalPredictor`, in any Python process). Importing ``akdl`` never imports TensorFlow and never
changes its behaviour: `LocalPredictor` and `current_task_config` are loaded on first use.

Importing one of Alink's TF1-era modules that akdl does not provide (``akdl.engine.inputs``,
``akdl.runner.io_helper``, ...) fails with a message saying what to use instead
(`akdl._retired`).
"""

from typing import Any

from akdl import _retired
from akdl.model_rows import model_rows_to_saved_model, saved_model_to_model_rows

_retired.install()

__all__ = [
    "LocalPredictor",
    "current_task_config",
    "model_rows_to_saved_model",
    "saved_model_to_model_rows",
]


def __getattr__(name: str) -> Any:
    """Loads `LocalPredictor` and `current_task_config` on first use (PEP 562).

    ``import akdl`` thus stays light. ``akdl.current_task_config()`` returns the task config of
    the script running in this TF process (`akdl.runner.current`).
    """
    if name == "LocalPredictor":
        from akdl.local_predictor import LocalPredictor

        globals()[name] = LocalPredictor
        return LocalPredictor
    if name == "current_task_config":
        from akdl.runner.current import current_task_config

        globals()[name] = current_task_config
        return current_task_config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
