"""The built-in task of the predict operators: rows in, SavedModel predictions out (TF process).

Instead of a user script, a predict task loads the SavedModel once and then, for each record
batch that arrives from Flink, predicts in slices of ``batch_size`` rows and sends the outputs
back at once, in input order, one output row per input row. The Flink side pairs each output
with its input row (reserved columns), so only the selected columns and the predictions cross
the channel.

The task's ``user_params`` (set by the operator, never by users) are:

* ``model_path``: a SavedModel directory, ``.zip`` or ``.tar.gz``, absolute or relative to the
  work dir;
* ``signature_def_key``, ``graph_def_tag``, ``input_signature_defs``, ``output_signature_defs``,
  ``batch_size``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from typing import Any

from bridge.channel_client import OutputStream
from bridge.codec import ExampleDecoder, ExampleEncoder
from bridge.schema import Schema

__all__ = ["run_predictions"]

_log = logging.getLogger("akdl.predict")


def run_predictions(
    params: dict[str, Any],
    input_schema: Schema,
    output_schema: Schema,
    work_dir: str,
    batches: Iterable[list[bytes]],
    output: OutputStream,
) -> int:
    """Predict every input record batch and send the outputs; returns the rows predicted."""
    from akdl.predict.model_source import resolve_model_path
    from akdl.predict.predictor import SavedModelPredictor

    model_path = os.path.join(work_dir, params["model_path"])
    scratch = tempfile.mkdtemp(prefix="model-", dir=work_dir)
    predictor = SavedModelPredictor(
        resolve_model_path(model_path, scratch),
        input_schema,
        output_schema,
        input_signature_defs=params.get("input_signature_defs") or None,
        output_signature_defs=params.get("output_signature_defs") or None,
        signature_def_key=params.get("signature_def_key") or "serving_default",
        graph_def_tag=params.get("graph_def_tag") or "serve",
    )
    batch_size = int(params.get("batch_size") or 256)
    decoder = ExampleDecoder(input_schema)
    encoder = ExampleEncoder(output_schema)
    predicted = 0
    for records in batches:
        rows = [decoder.decode(record) for record in records]
        for start in range(0, len(rows), batch_size):
            for values in predictor.predict(rows[start : start + batch_size]):
                output.write(encoder.encode(values))
        output.flush()
        predicted += len(rows)
    _log.info("predicted %d rows", predicted)
    return predicted
