"""Every Alink name a ported program calls exists here (modelled on PyFlink's completeness tests).

The expected names come from Alink's operator documentation and Java param interfaces
(pyalink generates one ``set<Name>`` per Java parameter) and from shared/API.md. A name akdl
declares but does not support must still exist and fail with a clear error when set; those are
listed in ``UNSUPPORTED`` with the reason, so the list is a deliberate decision.
"""

import pytest

import operators
from bridge.errors import ParamError

SCRIPT = [
    "setUserFiles", "setMainScriptFile", "setUserParams", "setNumWorkers", "setNumPSs",
    "setPythonEnv", "setIntraOpParallelism", "setSelectedCols",
]
PREDICT = [
    "setOutputSchemaStr", "setSelectedCols", "setReservedCols", "setSignatureDefKey",
    "setInputSignatureDefs", "setOutputSignatureDefs", "setGraphDefTag", "setIntraOpParallelism",
]
MODEL_STREAM = [
    "setModelFilePath", "setModelStreamFilePath", "setModelStreamScanInterval",
    "setModelStreamStartTime",
]

ALINK_SETTERS = {
    "TensorFlowBatchOp": [*SCRIPT, "setOutputSchemaStr"],
    "TensorFlow2BatchOp": [*SCRIPT, "setOutputSchemaStr"],
    "TensorFlowStreamOp": [*SCRIPT, "setOutputSchemaStr"],
    "TensorFlow2StreamOp": [*SCRIPT, "setOutputSchemaStr"],
    "TFTableModelTrainBatchOp": SCRIPT,
    "TF2TableModelTrainBatchOp": SCRIPT,
    "TFTableModelPredictBatchOp": PREDICT,
    "TFTableModelPredictStreamOp": [*PREDICT, *MODEL_STREAM],
    "TFSavedModelPredictBatchOp": [*PREDICT, "setModelPath"],
    "TFSavedModelPredictStreamOp": [*PREDICT, "setModelPath"],
    # API.md's sources.
    "RandomTableSourceBatchOp": ["setNumRows", "setNumCols", "setIdCol", "setOutputCols"],
    "RandomTableSourceStreamOp": ["setNumCols", "setIdCol", "setOutputCols", "setMaxRows"],
    "MemSourceBatchOp": ["setSchemaStr"],
    "MemSourceStreamOp": ["setSchemaStr"],
    "CsvSourceBatchOp": ["setFilePath", "setSchemaStr"],
}

# API.md §1: what every operator offers, batch and stream.
TABLE_API = [
    "link", "linkFrom", "select", "filter", "getColNames", "getColTypes", "getSchemaStr",
    "getTable", "fromTable", "print", "collect", "execute",
]
BATCH_ONLY = ["collectToDataframe"]
ENVIRONMENT = ["use_local_env", "useLocalEnv", "get_env"]

UNSUPPORTED = {
    ("TFTableModelPredictStreamOp", name): "model streams are not implemented"
    for name in MODEL_STREAM
}


def getter(setter):
    return "get" + setter[3:]


@pytest.mark.parametrize("op_name", sorted(ALINK_SETTERS))
def test_every_alink_setter_and_its_getter_exist(op_name):
    cls = getattr(operators, op_name)
    missing = [
        name for setter in ALINK_SETTERS[op_name] for name in (setter, getter(setter))
        if not callable(getattr(cls, name, None))
    ]
    assert not missing, f"{op_name} lacks {missing}"


@pytest.mark.parametrize("op_name", sorted(ALINK_SETTERS))
def test_every_operator_offers_the_table_api(op_name):
    cls = getattr(operators, op_name)
    expected = TABLE_API + (BATCH_ONLY if issubclass(cls, operators.BatchOperator) else [])
    assert not [m for m in expected if not callable(getattr(cls, m, None))]


@pytest.mark.parametrize("op_name", sorted(ALINK_SETTERS))
def test_every_setter_has_a_snake_case_keyword(op_name):
    cls = getattr(operators, op_name)
    keywords = {p.keyword for p in cls.param_specs().values()}
    for setter in ALINK_SETTERS[op_name]:
        spec = cls.param_specs()[setter[3].lower() + setter[4:]]
        assert spec.keyword in keywords


def test_the_environment_helpers_exist():
    assert not [name for name in ENVIRONMENT if not callable(getattr(operators, name, None))]
    assert set(ALINK_SETTERS) <= set(operators.__all__)


@pytest.mark.parametrize(("op_name", "setter"), sorted(UNSUPPORTED))
def test_unsupported_names_fail_clearly_when_set(op_name, setter):
    op = getattr(operators, op_name)()
    value = 10 if setter.endswith("Interval") else "x"
    with pytest.raises(ParamError, match=rf"{op_name}: parameter '.*' is not supported by akdl"):
        getattr(op, setter)(value)
