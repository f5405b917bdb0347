"""Loading one signature of a SavedModel and binding columns to its inputs and outputs.

Imports TensorFlow (TF2 behaviour; never switches to TF1 mode). Every error names what was asked
for and lists what the SavedModel offers: its tag sets, signature keys, and the signature's
inputs and outputs with their dtypes and shapes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf
from google.protobuf import message, text_format
from tensorflow.core.protobuf import saved_model_pb2

from akdl.predict.inputs import InputConverter, input_converter
from akdl.predict.outputs import OutputConverter, output_converter
from akdl.predict.tensors import TensorInfo
from bridge.errors import PredictError
from bridge.schema import Schema

__all__ = [
    "Signature",
    "bind_inputs",
    "bind_outputs",
    "describe_tensors",
    "load_signature",
]

_INIT_OP_KEY = "__saved_model_init_op"


@dataclass(frozen=True)
class Signature:
    """A loaded signature function with what it declares.

    Attributes:
        model_dir: the SavedModel directory.
        key: the signature key, e.g. ``"serving_default"``.
        tags: the MetaGraph tags it was loaded with.
        function: the signature's concrete function; call it with keyword tensors.
        inputs: the signature's inputs by name.
        outputs: the signature's outputs by name.
        root: the loaded SavedModel object; it owns the variables ``function`` reads, so it
            must stay alive as long as ``function`` is used.
    """

    model_dir: str
    key: str
    tags: tuple[str, ...]
    function: Callable[..., Mapping[str, Any]]
    inputs: Mapping[str, TensorInfo]
    outputs: Mapping[str, TensorInfo]
    root: Any = field(repr=False, compare=False)


def describe_tensors(tensors: Mapping[str, TensorInfo]) -> str:
    """The tensors as text for messages, e.g. ``"'x' float32[?], 'y' float32[?]"``."""
    return ", ".join(str(t) for t in tensors.values()) or "(none)"


def _meta_graphs(model_dir: str) -> list[tuple[frozenset[str], list[str]]] | None:
    """Each MetaGraph's tag set and signature keys, read from the SavedModel proto.

    ``None`` when the proto cannot be read; loading then reports the problem.
    """
    saved_model = saved_model_pb2.SavedModel()
    try:
        pb = os.path.join(model_dir, "saved_model.pb")
        if os.path.isfile(pb):
            with open(pb, "rb") as f:
                saved_model.ParseFromString(f.read())
        else:
            with open(os.path.join(model_dir, "saved_model.pbtxt"), encoding="utf-8") as f:
                text_format.Parse(f.read(), saved_model)
    except (OSError, message.Error, UnicodeDecodeError):
        return None
    return [
        (
            frozenset(mg.meta_info_def.tags),
            sorted(k for k in mg.signature_def if k != _INIT_OP_KEY),
        )
        for mg in saved_model.meta_graphs
    ]


def _describe_meta_graphs(graphs: list[tuple[frozenset[str], list[str]]]) -> str:
    return "; ".join(
        f"tags {','.join(sorted(tags)) or '(none)'!r} with signatures {keys}"
        for tags, keys in graphs
    )


def _tensor_info(name: str, spec: Any) -> TensorInfo:
    shape = tf.TensorShape(spec.shape)
    dims = None if shape.rank is None else tuple(shape.as_list())
    return TensorInfo(name, tf.as_dtype(spec.dtype).name, dims)


def load_signature(
    model_dir: str, signature_def_key: str, tags: Sequence[str]
) -> Signature:
    """Loads a SavedModel and picks one of its signatures.

    Args:
        model_dir: the directory holding ``saved_model.pb``.
        signature_def_key: the signature's key.
        tags: the tags of the MetaGraph to load (``graphDefTag``).

    Returns:
        The signature, with the loaded model kept alive.

    Raises:
        PredictError: no MetaGraph has the tags (the message lists the tag sets and their
            signatures), the model cannot be loaded, or it has no such signature (the message
            lists the keys it has).
    """
    tags = list(tags)
    graphs = _meta_graphs(model_dir)
    if graphs is not None and frozenset(tags) not in {g[0] for g in graphs}:
        raise PredictError(
            f"the SavedModel at {model_dir!r} has no MetaGraph tagged {','.join(tags)!r} "
            f"(graphDefTag); it has {_describe_meta_graphs(graphs)}"
        )
    try:
        root = tf.saved_model.load(model_dir, tags=tags)
    except Exception as exc:  # TF raises many kinds; all mean "cannot load"
        raise PredictError(
            f"cannot load the SavedModel at {model_dir!r} with tags {tags}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    signatures = getattr(root, "signatures", None) or {}
    if signature_def_key not in signatures:
        available = sorted(signatures.keys())
        if not available:
            raise PredictError(
                f"the SavedModel at {model_dir!r} has no signatures, so it cannot serve "
                f"signatureDefKey {signature_def_key!r}; export it with "
                f"tf.saved_model.save(..., signatures={{'serving_default': ...}})"
            )
        raise PredictError(
            f"the SavedModel at {model_dir!r} has no signature {signature_def_key!r} "
            f"(signatureDefKey); its signatures are: {', '.join(map(repr, available))}"
        )
    function = signatures[signature_def_key]
    args, kwargs = function.structured_input_signature
    specs = dict(kwargs)
    for i, spec in enumerate(args):  # signatures take keywords; name positional ones anyway
        specs.setdefault(getattr(spec, "name", None) or f"input_{i}", spec)
    inputs = {name: _tensor_info(name, spec) for name, spec in sorted(specs.items())}
    structured = function.structured_outputs
    if not isinstance(structured, Mapping):
        raise PredictError(
            f"signature {signature_def_key!r} of the SavedModel at {model_dir!r} returns "
            f"{type(structured).__name__}, not a dict of named outputs"
        )
    outputs = {name: _tensor_info(name, spec) for name, spec in sorted(structured.items())}
    return Signature(
        model_dir=model_dir,
        key=signature_def_key,
        tags=tuple(tags),
        function=function,
        inputs=inputs,
        outputs=outputs,
        root=root,
    )


def _check_names(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise PredictError(f"{what} names {name!r} twice")
        seen.add(name)


def bind_inputs(
    signature: Signature, columns: Schema, input_signature_defs: Sequence[str] | None = None
) -> list[InputConverter]:
    """Pairs each selected column with the signature input it feeds.

    Args:
        signature: the loaded signature.
        columns: the selected columns, in order.
        input_signature_defs: the input fed by each column, in the same order; default: the
            column names.

    Returns:
        One converter per column, in column order.

    Raises:
        PredictError: the counts differ, a name is not an input of the signature (the message
            lists the inputs with dtypes and shapes), an input is named twice or left unfed, or
            a column can never feed its input.
    """
    names = list(columns.names if input_signature_defs is None else input_signature_defs)
    where = f"signature {signature.key!r}"
    if len(names) != len(columns):
        raise PredictError(
            f"{len(columns)} selected columns {columns.names} but {len(names)} "
            f"inputSignatureDefs {names}; they pair up in order. The {where} takes inputs: "
            f"{describe_tensors(signature.inputs)}"
        )
    _check_names(names, "inputSignatureDefs")
    for name in names:
        if name not in signature.inputs:
            hint = "" if input_signature_defs is not None else " (set inputSignatureDefs)"
            raise PredictError(
                f"{where} has no input {name!r}{hint}; its inputs are: "
                f"{describe_tensors(signature.inputs)}"
            )
    unfed = [n for n in signature.inputs if n not in names]
    if unfed:
        raise PredictError(
            f"{where} input(s) {', '.join(map(repr, unfed))} would not be fed: the selected "
            f"columns {columns.names} feed {names}; every input needs a column. Its inputs are: "
            f"{describe_tensors(signature.inputs)}"
        )
    return [
        input_converter(f.name, f.type, signature.inputs[name])
        for f, name in zip(columns, names, strict=True)
    ]


def bind_outputs(
    signature: Signature,
    columns: Schema,
    output_signature_defs: Sequence[str] | None = None,
    tensor_format: str = "alink",
) -> list[OutputConverter]:
    """Pairs each output column with the signature output that fills it.

    Args:
        signature: the loaded signature.
        columns: the output columns (from ``outputSchemaStr``), in order.
        output_signature_defs: the output filling each column, in the same order; default: the
            column names.
        tensor_format: how a STRING column writes a tensor (``"alink"`` or ``"json"``).

    Returns:
        One converter per column, in column order.

    Raises:
        PredictError: the counts differ, a name is not an output of the signature (the message
            lists the outputs), or an output can never fill its column.
    """
    names = list(columns.names if output_signature_defs is None else output_signature_defs)
    where = f"signature {signature.key!r}"
    if len(names) != len(columns):
        raise PredictError(
            f"{len(columns)} output columns {columns.names} but {len(names)} "
            f"outputSignatureDefs {names}; they pair up in order. The {where} has outputs: "
            f"{describe_tensors(signature.outputs)}"
        )
    for name in names:
        if name not in signature.outputs:
            hint = "" if output_signature_defs is not None else " (set outputSignatureDefs)"
            raise PredictError(
                f"{where} has no output {name!r}{hint}; its outputs are: "
                f"{describe_tensors(signature.outputs)}"
            )
    return [
        output_converter(f.name, f.type, signature.outputs[name], tensor_format)
        for f, name in zip(columns, names, strict=True)
    ]
