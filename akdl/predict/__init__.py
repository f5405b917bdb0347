"""SavedModel prediction: the TensorFlow-side core of LocalPredictor and the predict operators.

Modules, one job each:

- `akdl.predict.model_source`: a SavedModel directory, archive or model rows -> its directory;
- `bridge.predict_columns`: selected, reserved and result columns (Alink's layout);
- `akdl.predict.tensors`: what a signature declares about a tensor;
- `akdl.predict.alink_tensor`: Alink's tensor strings;
- `akdl.predict.inputs`: row values -> numpy arrays for signature inputs;
- `akdl.predict.outputs`: numpy arrays of signature outputs -> row values;
- `akdl.predict.signature`: loading a signature and binding columns to it (imports TF);
- `akdl.predict.predictor`: `SavedModelPredictor`, batches through a signature (imports TF).

Importing this package imports no TensorFlow; the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ColumnPlan",
    "InputConverter",
    "OutputConverter",
    "SavedModelPredictor",
    "Signature",
    "TensorInfo",
    "load_signature",
    "model_dir_from_rows",
    "parse_alink_tensor",
    "plan_columns",
    "resolve_model_path",
]

_HOMES = {
    "ColumnPlan": "bridge.predict_columns",
    "plan_columns": "bridge.predict_columns",
    "InputConverter": "akdl.predict.inputs",
    "OutputConverter": "akdl.predict.outputs",
    "TensorInfo": "akdl.predict.tensors",
    "parse_alink_tensor": "akdl.predict.alink_tensor",
    "model_dir_from_rows": "akdl.predict.model_source",
    "resolve_model_path": "akdl.predict.model_source",
    "SavedModelPredictor": "akdl.predict.predictor",
    "Signature": "akdl.predict.signature",
    "load_signature": "akdl.predict.signature",
}


def __getattr__(name: str) -> Any:
    """Imports the module that defines ``name`` on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
