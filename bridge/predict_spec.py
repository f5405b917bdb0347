"""Predict settings with one definition (both processes; never imports TensorFlow).

The predict operators, the TF process's predict task and `akdl.LocalPredictor` all build a
``PredictSpec`` with :func:`predict_spec` and read it back with :func:`resolved`, so a default
(or what an empty value means) cannot drift between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bridge.name_lists import parse_name_list
from bridge.protos.task_spec_pb2 import PredictSpec

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_GRAPH_DEF_TAG",
    "DEFAULT_SIGNATURE_DEF_KEY",
    "DEFAULT_TENSOR_FORMAT",
    "TENSOR_FORMATS",
    "PredictSettings",
    "predict_spec",
    "resolved",
]

DEFAULT_SIGNATURE_DEF_KEY = "serving_default"
DEFAULT_GRAPH_DEF_TAG = "serve"
DEFAULT_BATCH_SIZE = 256
# How a tensor becomes the text of a STRING output column (docs/train-and-predict.md).
TENSOR_FORMATS = ("alink", "json")
DEFAULT_TENSOR_FORMAT = "alink"


@dataclass(frozen=True)
class PredictSettings:
    """A ``PredictSpec`` with every default applied.

    Attributes:
        model_path: the SavedModel directory or archive.
        signature_def_key: the signature to run.
        graph_def_tags: the MetaGraph tags to load.
        input_signature_defs: the signature input fed by each selected column; ``None``: the
            column names.
        output_signature_defs: the signature output read by each output column; ``None``: the
            column names.
        batch_size: rows per call of the model.
        tensor_format: how a tensor is written into a STRING column, one of `TENSOR_FORMATS`.
    """

    model_path: str
    signature_def_key: str
    graph_def_tags: tuple[str, ...]
    input_signature_defs: tuple[str, ...] | None
    output_signature_defs: tuple[str, ...] | None
    batch_size: int
    tensor_format: str


def _names(value: Any) -> list[str]:
    return [] if value is None else parse_name_list(value)


def predict_spec(
    model_path: str = "",
    *,
    signature_def_key: str | None = None,
    graph_def_tag: str | Sequence[str] | None = None,
    input_signature_defs: Any = None,
    output_signature_defs: Any = None,
    batch_size: int | None = None,
    tensor_format: str | None = None,
) -> PredictSpec:
    """A ``PredictSpec`` from predict parameters; ``None`` or empty values mean the defaults.

    Args:
        model_path: the SavedModel directory or archive.
        signature_def_key: default ``serving_default``.
        graph_def_tag: one tag, comma-separated tags, or a list of tags; default ``serve``.
        input_signature_defs: a name list in any spelling of `bridge.name_lists`.
        output_signature_defs: likewise.
        batch_size: default 256.
        tensor_format: ``"alink"`` (the default) or ``"json"``.

    Raises:
        TypeError: a name list is of the wrong type.
        ValueError: a name list cannot be parsed, ``batch_size`` is below 1, or the tensor
            format is unknown.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if tensor_format and tensor_format not in TENSOR_FORMATS:
        raise ValueError(f"tensor format must be one of {TENSOR_FORMATS}, got {tensor_format!r}")
    tags = graph_def_tag if isinstance(graph_def_tag, str) else ",".join(graph_def_tag or [])
    return PredictSpec(
        model_path=model_path,
        signature_def_key=signature_def_key or "",
        graph_def_tag=tags,
        input_signature_defs=_names(input_signature_defs),
        output_signature_defs=_names(output_signature_defs),
        batch_size=batch_size or 0,
        tensor_format=tensor_format or "",
    )


def resolved(spec: PredictSpec) -> PredictSettings:
    """The settings a ``PredictSpec`` means, defaults applied."""
    tags = tuple(t.strip() for t in spec.graph_def_tag.split(",") if t.strip())
    return PredictSettings(
        model_path=spec.model_path,
        signature_def_key=spec.signature_def_key or DEFAULT_SIGNATURE_DEF_KEY,
        graph_def_tags=tags or (DEFAULT_GRAPH_DEF_TAG,),
        input_signature_defs=tuple(spec.input_signature_defs) or None,
        output_signature_defs=tuple(spec.output_signature_defs) or None,
        batch_size=spec.batch_size or DEFAULT_BATCH_SIZE,
        tensor_format=spec.tensor_format or DEFAULT_TENSOR_FORMAT,
    )
