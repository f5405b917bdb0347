"""Batch prediction with one signature of a SavedModel (imports TensorFlow).

`SavedModelPredictor` is the TensorFlow-side core shared by `akdl.LocalPredictor` and the
predict operators' TF processes: rows of the selected columns in, one row of output values out
per input row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from akdl.predict.inputs import InputConverter
from akdl.predict.outputs import OutputConverter
from akdl.predict.signature import Signature, bind_inputs, bind_outputs, load_signature
from bridge.errors import PredictError
from bridge.predict_spec import PredictSettings
from bridge.schema import Schema

__all__ = ["SavedModelPredictor"]


class SavedModelPredictor:
    """Runs batches of rows through one signature of a SavedModel.

    Everything that does not depend on the data is checked here, before any row is fed: the
    tags, the signature key, the pairing of columns with signature inputs and outputs, and
    whether each column's type and shape fit its tensor.

    Args:
        model_dir: the directory holding ``saved_model.pb``.
        input_schema: the selected input columns, in the order of each row's values.
        output_schema: the output columns (``outputSchemaStr``).
        settings: the signature key, tags and signature-def mapping
            (`bridge.predict_spec.resolved`); its model path and batch size are not used here.

    Raises:
        PredictError: the model, signature or column pairing is unusable; the message lists
            what the SavedModel offers.
    """

    def __init__(
        self,
        model_dir: str,
        input_schema: Schema,
        output_schema: Schema,
        settings: PredictSettings,
    ):
        self._input_schema = input_schema
        self._output_schema = output_schema
        self._signature = load_signature(
            model_dir, settings.signature_def_key, settings.graph_def_tags
        )
        self._inputs: list[InputConverter] = bind_inputs(
            self._signature, input_schema, settings.input_signature_defs
        )
        self._outputs: list[OutputConverter] = bind_outputs(
            self._signature, output_schema, settings.output_signature_defs, settings.tensor_format
        )
        self._dtypes = {c.spec.name: tf.as_dtype(c.spec.dtype) for c in self._inputs}

    @property
    def input_schema(self) -> Schema:
        """The selected input columns, in row order."""
        return self._input_schema

    @property
    def output_schema(self) -> Schema:
        """The output columns."""
        return self._output_schema

    @property
    def signature(self) -> Signature:
        """The loaded signature, with its declared inputs and outputs."""
        return self._signature

    def predict(self, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Predicts one batch given as rows.

        Calls the signature function once, with one keyword tensor per input.

        Args:
            rows: the values of the selected columns, one sequence per row, in
                ``input_schema`` order.

        Returns:
            One tuple of output values (in ``output_schema`` order) per input row, in order.

        Raises:
            PredictError: a row has the wrong number of values, a value cannot be fed, the
                model fails on the batch, or an output does not hold one entry per row.
        """
        if not rows:
            return []
        width = len(self._input_schema)
        for i, row in enumerate(rows):
            if len(row) != width:
                raise PredictError(
                    f"row {i} of the batch holds {len(row)} values, but the selected columns "
                    f"are {self._input_schema.names}"
                )
        columns = list(zip(*rows)) if width else []
        return list(zip(*self._run(columns, len(rows)), strict=True))

    def predict_columns(self, columns: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """Predicts one batch given as columns (the columnar path).

        Args:
            columns: one sequence of values per selected column, in ``input_schema`` order,
                all of the batch's length.

        Returns:
            One list of values per output column, in ``output_schema`` order.

        Raises:
            PredictError: as for `predict`.
        """
        batch = len(columns[0]) if columns else 0
        if batch == 0:
            return [[] for _ in self._outputs]
        return self._run(columns, batch)

    def _run(self, columns: Sequence[Sequence[Any]], batch: int) -> list[list[Any]]:
        """Feed the columns, call the signature once, and convert each output column."""
        feeds = {
            conv.spec.name: self._tensor(conv.spec.name, conv.to_array(values))
            for conv, values in zip(self._inputs, columns, strict=True)
        }
        try:
            results = self._signature.function(**feeds)
        except (tf.errors.OpError, ValueError, TypeError) as exc:
            raise PredictError(
                f"signature {self._signature.key!r} of the SavedModel at "
                f"{self._signature.model_dir!r} failed on a batch of {batch} rows: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        arrays: dict[str, np.ndarray] = {}
        values = []
        for conv in self._outputs:
            name = conv.spec.name
            if name not in arrays:
                arrays[name] = _to_numpy(results, name)
            values.append(conv.to_values(arrays[name], batch))
        return values

    def _tensor(self, name: str, array: np.ndarray) -> tf.Tensor:
        dtype = self._dtypes[name]
        if array.dtype == object:
            return tf.constant(array, dtype=tf.string)
        tensor = tf.constant(array)
        return tensor if tensor.dtype == dtype else tf.cast(tensor, dtype)


def _to_numpy(results: Mapping[str, Any], name: str) -> np.ndarray:
    value = results[name]
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)
