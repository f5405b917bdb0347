"""Parsing the Flink rows a TF process receives (runs in the TF process; imports TF lazily).

The records are serialized ``tf.train.Example`` messages whose features follow the input schema
(API.md §4). The schema travels in ``task_config.tf_context.properties["input_schema"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.schema import FeatureKind, Schema, TypeKind, parse_schema

__all__ = ["feature_spec", "input_schema"]


def input_schema(task_config: Any) -> Schema:
    """The schema of the rows this task receives."""
    return parse_schema(task_config.tf_context.properties["input_schema"])


def feature_spec(schema: Schema, columns: Sequence[str] | None = None) -> dict[str, Any]:
    """A ``tf.io.parse_example`` spec for ``columns`` (default: all) of ``schema``.

    Scalar columns become ``FixedLenFeature([])`` with a zero default, so NULLs (absent
    features) parse as 0 / empty; ARRAY columns become ``VarLenFeature``.
    """
    import tensorflow as tf

    dtypes = {FeatureKind.INT64: tf.int64, FeatureKind.FLOAT: tf.float32,
              FeatureKind.BYTES: tf.string}
    defaults = {FeatureKind.INT64: 0, FeatureKind.FLOAT: 0.0, FeatureKind.BYTES: b""}
    spec: dict[str, Any] = {}
    for name in columns or schema.names:
        ft = schema.types[schema.index_of(name)]
        kind = ft.feature_kind
        if ft.kind is TypeKind.ARRAY:
            spec[name] = tf.io.VarLenFeature(dtypes[kind])
        else:
            spec[name] = tf.io.FixedLenFeature([], dtypes[kind], default_value=defaults[kind])
    return spec
