"""Predicting with a SavedModel or Alink model rows in this process, without Flink.

`LocalPredictor` takes the predict operators' parameters in snake_case and returns rows shaped as
the operators' output would be (API.md §3). Importing this module imports no TensorFlow; the
predictor loads it when it is built.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from akdl.predict.model_source import model_dir_from_rows, resolve_model_path
from bridge.errors import ParamError, PredictError
from bridge.name_lists import parse_name_list
from bridge.predict_columns import ColumnPlan, plan_columns
from bridge.predict_spec import TENSOR_FORMATS, predict_spec, resolved
from bridge.schema import ColumnNotFoundError, Schema, parse_schema

if TYPE_CHECKING:
    import pandas as pd

    from akdl.predict.predictor import SavedModelPredictor

__all__ = ["LocalPredictor"]

_NAME = "LocalPredictor"
_PARAMS = (
    "selected_cols",
    "reserved_cols",
    "output_schema_str",
    "signature_def_key",
    "graph_def_tag",
    "input_signature_defs",
    "output_signature_defs",
    "batch_size",
    "tensor_string_format",
    "intra_op_parallelism",
    "python_env",
)


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _check_params(params: dict[str, Any]) -> None:
    for name in params:
        if name not in _PARAMS:
            snake = _snake_case(name)
            hint = f" (did you mean {snake!r}?)" if snake in _PARAMS and snake != name else ""
            raise TypeError(
                f"{_NAME}() got an unexpected keyword argument {name!r}{hint}; "
                f"it takes: {', '.join(_PARAMS)}"
            )


def _name_list(params: dict[str, Any], key: str) -> list[str] | None:
    """A list-of-names parameter, parsed as the operators parse it (`bridge.name_lists`)."""
    value = params.get(key)
    if value is None:
        return None
    try:
        return parse_name_list(value)
    except (TypeError, ValueError) as exc:
        raise ParamError(_NAME, key, str(exc)) from None


def _tensor_format(params: dict[str, Any]) -> str | None:
    value = params.get("tensor_string_format")
    if value is not None and value not in TENSOR_FORMATS:
        raise ParamError(_NAME, "tensor_string_format",
                         f"must be one of {TENSOR_FORMATS}, got {value!r}")
    return value


def _schema(value: Any, key: str) -> Schema:
    if isinstance(value, Schema):
        return value
    if not isinstance(value, str):
        raise ParamError(_NAME, key, f"must be a schema string, got {type(value).__name__}")
    return parse_schema(value)


def _positive_int(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParamError(_NAME, key, f"must be a positive integer, got {value!r}")
    return value


def _set_intra_op_parallelism(threads: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow is already initialized in this process
        current = tf.config.threading.get_intra_op_parallelism_threads()
        if current != threads:
            warnings.warn(
                f"{_NAME}: intra_op_parallelism={threads} has no effect: TensorFlow was already "
                f"initialized in this process with {current or 'its default'} threads",
                stacklevel=3,
            )


def _model_rows(model: Any) -> Iterable[Sequence[Any]]:
    if hasattr(model, "itertuples"):  # a pandas DataFrame of model rows
        return model.itertuples(index=False, name=None)
    if callable(getattr(model, "collect", None)):  # e.g. a BatchOperator of model rows
        return model.collect()
    return model


class LocalPredictor:
    """Predicts with a SavedModel in this process, as the predict operators would.

    Args:
        model: a SavedModel path (directory, ``.zip``, ``.tar.gz`` or ``.tgz``), an MLflow URI
            (``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``runs:/<run_id>/<path>``,
            downloaded through this process's MLflow settings; needs ``akdl[mlflow]``), or Alink
            model rows ``(model_id, model_info)`` as a sequence of pairs, a pandas DataFrame, or
            an object whose ``collect()`` returns them (such as a model ``BatchOperator``).
        input_schema_str: the schema of the rows to predict, e.g. ``"id long, x double"``.
        **predict_params: the predict operators' parameters in snake_case:

            - ``output_schema_str`` (required): the output columns, e.g. ``"score double"``;
            - ``selected_cols``: the columns feeding the model, in order (default: all);
            - ``reserved_cols``: the input columns passed through (default: all);
            - ``signature_def_key`` (``"serving_default"``), ``graph_def_tag`` (``"serve"``;
              empty also means ``"serve"``, as in the operators);
            - ``input_signature_defs``: the signature input each selected column feeds
              (default: the column names); ``output_signature_defs``: the signature output
              each output column reads (default: the column names);
            - ``batch_size`` (256): rows per call of the model;
            - ``tensor_string_format`` (``"alink"``): how a tensor is written into a STRING
              output column, ``"alink"`` or ``"json"``;
            - ``intra_op_parallelism``: TensorFlow's intra-op threads (only before TensorFlow
              is first used in this process);
            - ``python_env``: accepted for parity with the operators and ignored: the model runs
              in this interpreter.

            Name lists may be Python lists, JSON lists or comma-separated strings.

    The result rows hold the reserved columns (in input order), then the output columns; an
    output column named like an input column takes that column's place, as in Alink.

    Raises:
        TypeError: an unknown keyword argument.
        ParamError: a missing or ill-typed parameter.
        SchemaError: a bad schema string.
        ColumnNotFoundError: a selected or reserved column is not an input column.
        PredictError: the model cannot be found or loaded, or does not fit the columns; the
            message lists what the SavedModel offers.
    """

    def __init__(self, model: Any, input_schema_str: str | Schema, **predict_params: Any):
        _check_params(predict_params)
        params = predict_params
        if params.get("output_schema_str") is None:
            raise ParamError(_NAME, "output_schema_str", "is required, e.g. 'score double'")
        input_schema = _schema(input_schema_str, "input_schema_str")
        output_schema = _schema(params["output_schema_str"], "output_schema_str")
        self._plan: ColumnPlan = plan_columns(
            input_schema,
            output_schema,
            _name_list(params, "selected_cols"),
            _name_list(params, "reserved_cols"),
        )
        settings = resolved(
            predict_spec(
                signature_def_key=params.get("signature_def_key"),
                graph_def_tag=params.get("graph_def_tag"),
                input_signature_defs=_name_list(params, "input_signature_defs"),
                output_signature_defs=_name_list(params, "output_signature_defs"),
                batch_size=_positive_int(params, "batch_size"),
                tensor_format=_tensor_format(params),
            )
        )
        self._batch_size = settings.batch_size
        threads = _positive_int(params, "intra_op_parallelism")
        self._scratch = tempfile.mkdtemp(prefix="akdl-local-predictor-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._scratch, ignore_errors=True)
        try:
            if isinstance(model, str | os.PathLike):
                model_dir = resolve_model_path(model, self._scratch)
            else:
                model_dir = model_dir_from_rows(_model_rows(model), self._scratch)
            if threads is not None:
                _set_intra_op_parallelism(threads)
            from akdl.predict.predictor import SavedModelPredictor

            self._predictor: SavedModelPredictor | None = SavedModelPredictor(
                model_dir, self._plan.selected_schema, output_schema, settings
            )
        except BaseException:
            self._cleanup()
            raise

    @property
    def input_schema(self) -> Schema:
        """The schema of the rows to predict."""
        return self._plan.input_schema

    @property
    def output_schema(self) -> Schema:
        """The model's output columns (``output_schema_str``)."""
        return self._plan.output_schema

    @property
    def result_schema(self) -> Schema:
        """The schema of the rows `predict` returns: reserved columns, then outputs."""
        return self._plan.result_schema

    @property
    def result_col_names(self) -> list[str]:
        """The column names of the rows `predict` returns."""
        return self._plan.result_schema.names

    def predict(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Predicts rows of the input schema.

        Args:
            rows: rows holding a value for every input column, in schema order (tuples,
                lists or PyFlink ``Row``); any iterable, read once.

        Returns:
            One tuple per input row, in order: the reserved columns, then the outputs.

        Raises:
            PredictError: a row has the wrong number of values, a value cannot be fed to the
                model (NULL, wrong type or shape), or the model fails; the message names the
                input row.
        """
        predictor = self._require_open()
        width = len(self._plan.input_schema)
        results: list[tuple[Any, ...]] = []
        batch: list[Sequence[Any]] = []
        start = 0
        for index, row in enumerate(rows):
            if len(row) != width:
                raise PredictError(
                    f"input row {index} holds {len(row)} values, but the input schema has "
                    f"{width} columns: {self._plan.input_schema.names}"
                )
            batch.append(row)
            if len(batch) == self._batch_size:
                results.extend(self._predict_batch(predictor, batch, start))
                start += len(batch)
                batch = []
        if batch:
            results.extend(self._predict_batch(predictor, batch, start))
        return results

    def predict_dataframe(self, df: pd.DataFrame) -> pd.DataFrame:
        """Predicts the rows of a pandas DataFrame.

        The DataFrame needs the selected and reserved columns (by name; others are ignored).
        ``None``, ``pd.NA`` and ``pd.NaT`` are NULLs; a float ``NaN`` is fed as NaN.

        Args:
            df: the rows to predict.

        Returns:
            A DataFrame with the result columns (reserved, then outputs) and ``df``'s index.

        Raises:
            ColumnNotFoundError: the DataFrame lacks a needed column; the message lists its
                columns.
            PredictError: as for `predict`.
        """
        import pandas as pd

        plan = self._plan
        needed = set(plan.selected) | {i for src, i in plan.sources if src == "input"}
        columns: list[list[Any]] = []
        for i, name in enumerate(plan.input_schema.names):
            if i not in needed:
                columns.append([None] * len(df))
                continue
            if name not in df.columns:
                raise ColumnNotFoundError(name, [str(c) for c in df.columns])
            columns.append([_null_to_none(v, pd) for v in df[name].tolist()])
        rows = list(zip(*columns, strict=True)) if columns else [()] * len(df)
        results = self.predict(rows)
        names = self.result_col_names
        data = {name: [r[k] for r in results] for k, name in enumerate(names)}
        return pd.DataFrame(data, index=df.index, columns=names)

    def close(self) -> None:
        """Releases the model and removes its unpacked files; `predict` fails afterwards."""
        self._predictor = None
        self._cleanup()

    def __enter__(self) -> LocalPredictor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _require_open(self) -> SavedModelPredictor:
        if self._predictor is None:
            raise PredictError(f"{_NAME} is closed")
        return self._predictor

    def _predict_batch(
        self, predictor: SavedModelPredictor, batch: list[Sequence[Any]], start: int
    ) -> list[tuple[Any, ...]]:
        plan = self._plan
        try:
            outputs = predictor.predict([plan.selected_values(row) for row in batch])
        except PredictError as exc:
            raise PredictError(
                f"{exc} [batch of input rows {start}..{start + len(batch) - 1}]"
            ) from exc
        return [plan.result_row(row, out) for row, out in zip(batch, outputs, strict=True)]


def _null_to_none(value: Any, pd: Any) -> Any:
    """Maps pandas' missing-value markers to ``None``; a float NaN stays a value."""
    return None if value is pd.NA or value is pd.NaT else value
