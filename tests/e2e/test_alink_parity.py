"""Alink's own documented calls, ported as a new user would: only the import and paths change.

The calls follow Alink's docs for TFTableModelPredictBatchOp / TFTableModelPredictStreamOp
(train with the bundled DNN, then predict its ``predict`` signature's ``logits``) and Alink's
TensorFlow2StreamOpTest.testPs (the stream DNN with 2 workers and 1 PS).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from py4j.protocol import Py4JJavaError

from akdl import LocalPredictor
from akdl.predict.alink_tensor import parse_alink_tensor
from bridge.errors import ParamError
from operators import (
    MemSourceBatchOp,
    RandomTableSourceBatchOp,
    RandomTableSourceStreamOp,
    TensorFlow2StreamOp,
    TensorFlowBatchOp,
    TFTableModelPredictBatchOp,
    TFTableModelPredictStreamOp,
    TFTableModelTrainBatchOp,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def alink_training(local_env, repo_root):
    """Alink's doc: a DNN trained by TFTableModelTrainBatchOp with 2 workers and 1 PS."""
    script = os.path.join(repo_root, "examples", "tf_dnn_train.py")
    source = RandomTableSourceBatchOp().setNumRows(100).setNumCols(10)
    colNames = source.getColNames()  # noqa: N806 - Alink's spelling, as in its docs
    source = source.select("*, case when RAND() > 0.5 then 1. else 0. end as label")
    label = "label"
    userParams = {  # noqa: N806
        "featureCols": json.dumps(colNames),
        "labelCol": label,
        "batch_size": 16,
        "num_epochs": 1,
    }
    tfTableModelTrainBatchOp = (  # noqa: N806
        TFTableModelTrainBatchOp()
        .setUserFiles([script])
        .setMainScriptFile(script)
        .setNumWorkers(2)
        .setNumPSs(1)
        .setUserParams(json.dumps(userParams))
        .linkFrom(source)
    )
    model_rows = [tuple(r) for r in tfTableModelTrainBatchOp.collect()]
    return tfTableModelTrainBatchOp, source, colNames, model_rows


def test_predict_signature_logits_in_a_batch(alink_training):
    # Alink's doc passes the train op itself, so this job trains a model of its own.
    tfTableModelTrainBatchOp, source, colNames, _ = alink_training  # noqa: N806
    tfTableModelPredictBatchOp = (  # noqa: N806
        TFTableModelPredictBatchOp()
        .setOutputSchemaStr("logits double")
        .setOutputSignatureDefs(["logits"])
        .setSignatureDefKey("predict")
        .setSelectedCols(colNames)
        .linkFrom(tfTableModelTrainBatchOp, source)
    )
    assert tfTableModelPredictBatchOp.getColNames() == [*colNames, "label", "logits"]
    rows = tfTableModelPredictBatchOp.collect()
    assert len(rows) == 100
    logits = [r[11] for r in rows]
    assert all(math.isfinite(v) for v in logits) and len(set(logits)) > 1


def test_the_same_model_answers_predict_and_serving_default(alink_training):
    _, source, colNames, model_rows = alink_training  # noqa: N806
    features = [(i, *r[:10]) for i, r in enumerate(source.collect())]
    schema = "id long, " + ", ".join(f"{c} double" for c in colNames)
    model = MemSourceBatchOp(model_rows, "model_id long, model_info string")
    data = MemSourceBatchOp(features, schema)
    common = dict(selected_cols=colNames, reserved_cols=["id"])

    def by_id(rows):
        return [r[1] for r in sorted(rows, key=lambda r: r[0])]

    logits = by_id(TFTableModelPredictBatchOp(
        output_schema_str="logits double", output_signature_defs=["logits"],
        signature_def_key="predict", **common,
    ).linkFrom(model, data).collect())
    probabilities = by_id(TFTableModelPredictBatchOp(
        output_schema_str="probability double", **common,
    ).linkFrom(model, data).collect())
    local = by_id(LocalPredictor(model_rows, schema, output_schema_str="logits double",
                                 output_signature_defs="logits", signature_def_key="predict",
                                 **common).predict(features))
    assert len(logits) == len(probabilities) == len(local) == 100
    np.testing.assert_allclose(logits, local, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([1 / (1 + math.exp(-v)) for v in logits], probabilities,
                               rtol=1e-5, atol=1e-6)


def test_predict_stream_op_takes_the_model_in_its_constructor(alink_training):
    tfTableModelTrainBatchOp, _, colNames, _ = alink_training  # noqa: N806
    stream = RandomTableSourceStreamOp().setNumCols(10).setMaxRows(30)
    tfTableModelPredictStreamOp = (  # noqa: N806
        TFTableModelPredictStreamOp(tfTableModelTrainBatchOp)
        .setOutputSchemaStr("logits double")
        .setOutputSignatureDefs(["logits"])
        .setSignatureDefKey("predict")
        .setSelectedCols(colNames)
        .linkFrom(stream)
    )
    assert tfTableModelPredictStreamOp.getColNames() == [*colNames, "logits"]
    rows = tfTableModelPredictStreamOp.collect()
    assert len(rows) == 30
    assert all(math.isfinite(r[10]) for r in rows)


def test_a_model_given_twice_or_not_at_all_is_a_clear_error(alink_training):
    train, source, colNames, _ = alink_training  # noqa: N806
    with pytest.raises(ParamError, match="'model' was given twice"):
        TFTableModelPredictBatchOp(train, output_schema_str="logits double").linkFrom(
            train, source)
    with pytest.raises(ParamError, match="'model' is missing"):
        TFTableModelPredictStreamOp(output_schema_str="logits double").linkFrom(
            RandomTableSourceStreamOp(num_cols=10, max_rows=1))


def test_tensors_in_string_columns_use_alink_text_and_read_back(alink_training):
    _, source, colNames, model_rows = alink_training  # noqa: N806
    # The trained rows, not the train op: linking that trains again (about 20 s of the suite),
    # and the test of linking the train op itself is test_predict_signature_logits_in_a_batch.
    model = MemSourceBatchOp(model_rows, "model_id long, model_info string")
    op = (
        TFTableModelPredictBatchOp()
        .setOutputSchemaStr("probabilities string, logits string")
        .setOutputSignatureDefs(["probabilities", "logits"])
        .setSignatureDefKey("predict")
        .setSelectedCols(colNames)
        .setReservedCols([])
        .linkFrom(model, source)
    )
    rows = op.collect()
    assert len(rows) == 100
    for text, logit_text in rows:
        p0, p1 = parse_alink_tensor(text, np.float32)
        logit = float(logit_text)  # one value per row: no separators, no prefix
        assert " " in text and "[" not in text and "$" not in text
        assert p0 + p1 == pytest.approx(1.0, abs=1e-6)
        assert p1 == pytest.approx(1 / (1 + math.exp(-logit)), rel=1e-5)
    as_json = (
        TFTableModelPredictBatchOp(tensor_string_format="json")
        .setOutputSchemaStr("probabilities string")
        .setOutputSignatureDefs(["probabilities"])
        .setSignatureDefKey("predict")
        .setSelectedCols(colNames)
        .setReservedCols([])
        .linkFrom(model, source)
    )
    assert all(len(json.loads(r[0])) == 2 for r in as_json.collect())


def test_a_script_importing_alink_tf1_helpers_fails_naming_the_module(local_env, write_script):
    # The first lines of Alink's own tf_dnn_stream.py.
    script = write_script("tf_dnn_stream.py", """
        from akdl.engine.inputs import get_feature_placeholders, parse_feature_specs
        from akdl.engine.run_config import generate_run_config
        from akdl.runner import io_helper
        from akdl.runner.config import StreamTaskConfig

        def main(task_config: StreamTaskConfig):
            pass
    """)
    op = (
        TensorFlowBatchOp()
        .setUserFiles([script])
        .setMainScriptFile(script)
        .setOutputSchemaStr("model_id long, model_info string")
        .setNumWorkers(1)
        .linkFrom(RandomTableSourceBatchOp().setNumRows(5).setNumCols(2))
    )
    with pytest.raises(Py4JJavaError) as failure:
        op.collect()
    message = str(failure.value)
    assert "RetiredModuleError" in message
    assert "No module named 'akdl.engine.inputs'" in message
    assert "tf.estimator" in message and "akdl.data.feature_spec" in message


def test_the_stream_dnn_with_a_parameter_server_is_refused_with_the_reason(
    local_env, repo_root
):
    # Alink's TensorFlow2StreamOpTest.testPs: the stream DNN on 2 workers and 1 PS.
    script = os.path.join(repo_root, "examples", "tf_dnn_stream.py")
    source = RandomTableSourceStreamOp().setNumCols(10).setMaxRows(200)
    colNames = source.getColNames()  # noqa: N806
    source = source.select("*, case when RAND() > 0.5 then 1. else 0. end as label")
    userParams = {"featureCols": json.dumps(colNames), "labelCol": "label",  # noqa: N806
                  "batch_size": 16, "num_epochs": 1}
    op = (
        TensorFlow2StreamOp()
        .setUserFiles([script])
        .setMainScriptFile(script)
        .setUserParams(json.dumps(userParams))
        .setOutputSchemaStr("model_id long, model_info string")
        .setNumWorkers(2)
        .setNumPSs(1)
        .linkFrom(source)
    )
    with pytest.raises(Py4JJavaError) as failure:
        op.collect()
    message = str(failure.value)
    assert "dnn_stream cannot train with parameter servers" in message
    assert "Set numPSs to 0" in message
