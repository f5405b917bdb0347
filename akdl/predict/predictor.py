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
        # The graph loop of predict_columns: None until built, False when the model cannot
        # take it (a fixed batch dimension, an output without a row axis).
        self._loop: Any = None

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

    def predict_columns(
        self, columns: Sequence[Sequence[Any]], batch_size: int | None = None
    ) -> list[Any]:
        """Predicts rows given as columns (the columnar path), ``batch_size`` rows per call.

        The model sees exactly the calls the row path makes: slices of ``batch_size`` rows, in
        order. When no input has a fixed batch dimension, the slices are fed to the signature
        by a loop inside one ``tf.function`` instead of one Python call per slice, which
        removes the per-call overhead (the model and its slices are the same).

        Args:
            columns: one sequence of values per selected column, in ``input_schema`` order,
                all of the same length; numpy arrays of numbers are fed as they are.
            batch_size: rows per call of the model; ``None``: all rows in one call.

        Returns:
            One column per output column, in ``output_schema`` order: a numpy array for
            scalar numbers and booleans, else a list of values.

        Raises:
            PredictError: as for `predict`.
        """
        rows = len(columns[0]) if columns else 0
        if rows == 0:
            return [[] for _ in self._outputs]
        size = batch_size or rows
        if rows > size and self._loop is not False:
            looped = self._run_looped(columns, rows, size)
            if looped is not None:
                return looped
        pieces = [
            self._run([c[start:start + size] for c in columns], min(size, rows - start),
                      as_columns=True)
            for start in range(0, rows, size)
        ]
        return [_joined([p[j] for p in pieces]) for j in range(len(self._outputs))]

    def _run_looped(self, columns: Sequence[Sequence[Any]], rows: int, size: int) -> list | None:
        """All slices through the graph loop; ``None`` when the loop cannot take this model."""
        try:
            feeds = [self._tensor(c.spec.name, c.to_array(v))
                     for c, v in zip(self._inputs, columns, strict=True)]
            loop = self._loop or self._build_loop()
            results = loop(*feeds, tf.constant(size, tf.int32))
        except PredictError:
            raise
        except Exception:  # noqa: BLE001 - the slice-by-slice path gives the precise error
            self._loop = False
            return None
        arrays = {name: value.numpy() for name, value in results.items()}
        return [conv.to_column(arrays[conv.spec.name], rows) for conv in self._outputs]

    def _build_loop(self) -> Any:
        """The graph loop that calls the signature once per slice (built once)."""
        if any(c.spec.shape is not None and c.spec.shape[:1] != (None,) for c in self._inputs):
            raise ValueError("an input with a fixed batch dimension")
        names = [c.spec.name for c in self._inputs]
        outputs = {c.spec.name: self._signature.outputs[c.spec.name] for c in self._outputs}
        function = self._signature.function
        specs = [tf.TensorSpec(None if c.spec.shape is None else [None, *c.spec.shape[1:]],
                               self._dtypes[c.spec.name]) for c in self._inputs]

        out_names = list(outputs)

        @tf.function(input_signature=[*specs, tf.TensorSpec([], tf.int32)], autograph=False)
        def loop(*args):
            *inputs, size = args
            count = (tf.shape(inputs[0])[0] + size - 1) // size
            parts = tuple(tf.TensorArray(tf.as_dtype(outputs[n].dtype), size=count,
                                         infer_shape=False) for n in out_names)

            def body(k, parts):
                start = k * size
                answer = function(**{n: x[start:start + size] for n, x in zip(names, inputs)})
                return k + 1, tuple(p.write(k, answer[n]) for p, n in zip(parts, out_names))

            _, parts = tf.while_loop(lambda k, _: k < count, body, (tf.constant(0), parts))
            return {n: p.concat() for n, p in zip(out_names, parts)}

        self._loop = loop
        return loop

    def _run(
        self, columns: Sequence[Sequence[Any]], batch: int, as_columns: bool = False
    ) -> list[Any]:
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
            convert = conv.to_column if as_columns else conv.to_values
            values.append(convert(arrays[name], batch))
        return values

    def _tensor(self, name: str, array: np.ndarray) -> tf.Tensor:
        dtype = self._dtypes[name]
        if array.dtype == object:
            return tf.constant(array, dtype=tf.string)
        tensor = tf.constant(array)
        return tensor if tensor.dtype == dtype else tf.cast(tensor, dtype)


def _joined(parts: list) -> Any:
    """One column from its pieces: numpy arrays stay one array, lists one list."""
    if parts and all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    return [v for p in parts for v in p]


def _to_numpy(results: Mapping[str, Any], name: str) -> np.ndarray:
    value = results[name]
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)
