"""The built-in task of the predict operators: rows in, SavedModel predictions out (TF process).

Instead of a user script, a predict task loads the SavedModel once and then, for each batch
that arrives from Flink, predicts in slices of ``batch_size`` rows and sends the outputs back at
once, in input order, one output row per input row. A batch of Example records (the row path)
is answered with records; a batch of columns (the columnar path) with columns. On the row
path the Flink side pairs each output with its input row (reserved columns), so only the
selected columns and the predictions cross the channel. The settings come in the task spec's
``PredictSpec`` (`bridge.predict_spec`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable

from bridge.channel_client import OutputStream
from bridge.codec import ExampleDecoder, ExampleEncoder
from bridge.column_batch import batch_columns, encode_batch, from_python
from bridge.predict_spec import resolved
from bridge.protos.channel_pb2 import ColumnBatch
from bridge.protos.task_spec_pb2 import PredictSpec
from bridge.schema import Schema

__all__ = ["run_predictions"]

_log = logging.getLogger("akdl.predict")


def run_predictions(
    spec: PredictSpec,
    input_schema: Schema,
    output_schema: Schema,
    work_dir: str,
    batches: Iterable[list[bytes] | ColumnBatch],
    output: OutputStream,
) -> int:
    """Predict every input record batch and send the outputs; returns the rows predicted."""
    from akdl.predict.model_source import resolve_model_path
    from akdl.predict.predictor import SavedModelPredictor

    settings = resolved(spec)
    model_path = os.path.join(work_dir, settings.model_path)
    scratch = tempfile.mkdtemp(prefix="model-", dir=work_dir)
    predictor = SavedModelPredictor(
        resolve_model_path(model_path, scratch), input_schema, output_schema, settings
    )
    batch_size = settings.batch_size
    decoder = ExampleDecoder(input_schema)
    encoder = ExampleEncoder(output_schema)
    predicted = 0
    for batch in batches:
        if isinstance(batch, ColumnBatch):
            columns = batch_columns(input_schema, batch, arrays=True)
            predicted_columns = predictor.predict_columns(columns, batch_size)
            answers = [from_python(t, v)
                       for t, v in zip(output_schema.types, predicted_columns, strict=True)]
            output.write_columns(encode_batch(output_schema, answers, batch.num_rows))
            predicted += batch.num_rows
            continue
        rows = [decoder.decode(record) for record in batch]
        for start in range(0, len(rows), batch_size):
            for values in predictor.predict(rows[start : start + batch_size]):
                output.write(encoder.encode(values))
        output.flush()
        predicted += len(rows)
    _log.info("predicted %d rows", predicted)
    return predicted
