"""Alink model rows <-> SavedModel directories; see :mod:`bridge.model_rows`.

The conversion lives in ``bridge`` so that the Flink side (which ships a model table to its TF
processes) and the TF side share one implementation; this module keeps the public import path.
"""

from bridge.model_rows import (
    MODEL_CHUNK_BYTES,
    MODEL_SCHEMA,
    find_saved_model,
    model_rows_to_saved_model,
    model_rows_to_zip_bytes,
    saved_model_to_model_rows,
)

__all__ = [
    "MODEL_CHUNK_BYTES",
    "MODEL_SCHEMA",
    "find_saved_model",
    "model_rows_to_saved_model",
    "model_rows_to_zip_bytes",
    "saved_model_to_model_rows",
]
