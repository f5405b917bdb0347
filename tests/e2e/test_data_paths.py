"""The columnar path and the row path give identical results; the choice is logged and forceable.

Every test runs real jobs on both paths (``dataPath="columnar"`` and ``"rows"``) and compares.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from decimal import Decimal

import pytest
from session_processes import driver_environ

from bridge.errors import ParamError
from operators import (
    MemSourceBatchOp,
    MemSourceStreamOp,
    TensorFlowBatchOp,
    TensorFlowStreamOp,
    TFSavedModelPredictBatchOp,
    TFSavedModelPredictStreamOp,
    use_local_env,
)

pytestmark = pytest.mark.e2e

PATHS = ["columnar", "rows"]
# Every type of API.md §4 (ARRAY<DOUBLE> goes back as text: the columnar path's packed results
# cannot carry NaN elements, so an ARRAY<DOUBLE> output column takes the row path).
INPUT = (
    "i8 TINYINT, i16 SMALLINT, i32 INT, i64 BIGINT, flag BOOLEAN, f FLOAT, d DOUBLE, "
    "dec DECIMAL(10, 2), s STRING, b BYTES, day DATE, ts TIMESTAMP(3), "
    "ad ARRAY<DOUBLE>, al ARRAY<BIGINT>, astr ARRAY<STRING>, ab ARRAY<BOOLEAN>"
)
OUTPUT = INPUT.replace("ad ARRAY<DOUBLE>", "ad STRING")
ROWS = [
    (1, -2, 2**31 - 1, -(2**63), True, 0.1, 0.1, Decimal("12.25"), "héllo ✓", b"\x00\xff",
     dt.date(1969, 12, 31), dt.datetime(2024, 2, 29, 12, 30, 45, 123000), [1.5, -0.1],
     [2**40, -1], ["a", "", "ü"], [True, False]),
    (0, 0, 0, 2**63 - 1, False, -3.25, 1e300, Decimal("-0.50"), "", b"",
     dt.date(2000, 1, 1), dt.datetime(1960, 1, 1), [], [], [], []),
    (-128, 32767, -(2**31), 7, None, float("nan"), float("-inf"), None, None, None,
     None, None, None, None, None, None),
    (None,) * 16,
]
ECHO = """
    import json

    import tensorflow as tf
    from akdl.data import feature_spec, input_schema

    def main(task_config):
        schema = input_schema(task_config)
        for record in tf.data.TFRecordDataset(task_config.dataset_file):
            example = tf.train.Example.FromString(record.numpy())
            features = example.features.feature
            if "ad" in features:
                values = list(features["ad"].float_list.value)
                del features["ad"]
                features["ad"].bytes_list.value.append(json.dumps(values).encode())
            task_config.output_writer.write(example)
"""


def canonical(rows):
    """Rows as comparable tuples: NaN as a string, arrays as tuples, bytes as bytes."""
    def value(v):
        if isinstance(v, float) and math.isnan(v):
            return "NaN"
        if isinstance(v, list | tuple):
            return tuple(value(e) for e in v)
        if isinstance(v, bytearray | memoryview):
            return bytes(v)
        return v

    return sorted((tuple(value(v) for v in r) for r in rows), key=repr)


def assert_same_predictions(a, b):
    """Identical rows, except that floats may differ by float32 rounding.

    TF's CPU kernels may round the last bit of a float32 differently for another batch, and
    the paths cut their micro-batches from differently routed rows.
    """
    assert len(a) == len(b)
    for x, y in zip(sorted(a, key=lambda r: r[0]), sorted(b, key=lambda r: r[0]), strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float):
                assert u == pytest.approx(v, rel=1e-5, abs=1e-6), (x, y)
            elif isinstance(u, str) and " " in u:  # Alink tensor text
                assert [float(t) for t in u.split()] == pytest.approx(
                    [float(t) for t in v.split()], rel=1e-5, abs=1e-6), (x, y)
            else:
                assert u == v, (x, y)


def echo(write_script, path: str, workers: int = 1) -> TensorFlowBatchOp:
    script = write_script("echo.py", ECHO)
    op = TensorFlowBatchOp(user_files=[script], main_script_file="echo.py",
                           output_schema_str=OUTPUT, num_workers=workers, data_path=path)
    return MemSourceBatchOp(ROWS, INPUT).link(op)


def test_every_type_and_null_gives_the_same_rows_on_both_paths(local_env, write_script, caplog):
    # Operators are linked before any job runs: PyFlink's workers reset the logging handlers.
    caplog.set_level(logging.INFO, logger="akdl.operators")
    columnar_op, rows_op = echo(write_script, "columnar", 2), echo(write_script, "rows", 2)
    assert "TensorFlowBatchOp: columnar path" in caplog.text
    assert "TensorFlowBatchOp: rows path (dataPath is 'rows')" in caplog.text
    columnar, rows = canonical(columnar_op.collect()), canonical(rows_op.collect())
    assert columnar == rows
    assert len(columnar) == 4
    by_i64 = {r[3]: r for r in columnar}
    first, nan_row = by_i64[-(2**63)], by_i64[7]
    assert first[7] == Decimal("12.25") and first[8] == "héllo ✓" and first[9] == b"\x00\xff"
    assert first[10] == dt.date(1969, 12, 31)
    assert first[11] == dt.datetime(2024, 2, 29, 12, 30, 45, 123000)
    assert json.loads(first[12]) == pytest.approx([1.5, -0.1], rel=1e-6)
    assert first[13:] == ((2**40, -1), ("a", "", "ü"), (True, False))
    # NaN and NULL stay apart; -inf survives.
    assert nan_row[5] == "NaN" and nan_row[6] == float("-inf") and nan_row[4] is None
    assert nan_row[0] == -128 and nan_row[2] == -(2**31)
    assert all(v is None for v in by_i64[None])


NAN_SCRIPT = """
    def main(task_config):
        for i, value in enumerate([float("nan"), None, 1.5, float("inf")]):
            task_config.output_writer.write_row({"i": i, "x": value, "y": value})
"""


def test_the_columnar_path_carries_fractional_timestamps_before_1970(local_env, write_script):
    # PyFlink's row coder fails on them ("microsecond must be in 0..999999"); Arrow does not.
    script = write_script("echo.py", ECHO)
    op = TensorFlowBatchOp(user_files=[script], main_script_file="echo.py", num_workers=1,
                           output_schema_str="ts TIMESTAMP(3)", data_path="columnar")
    values = [dt.datetime(1960, 1, 1, 0, 0, 0, 999000), dt.datetime(1969, 12, 31, 23, 59, 59,
                                                                     1000)]
    rows = MemSourceBatchOp([(v,) for v in values], "ts TIMESTAMP(3)").link(op).collect()
    assert sorted(r[0] for r in rows) == values


@pytest.mark.parametrize("path", PATHS)
def test_nan_and_null_outputs_stay_apart(local_env, write_script, path):
    script = write_script("nan.py", NAN_SCRIPT)
    op = TensorFlowBatchOp(user_files=[script], main_script_file="nan.py", num_workers=1,
                           output_schema_str="i int, x double, y float", data_path=path)
    rows = sorted(MemSourceBatchOp([(1,)], "a int").link(op).collect(), key=lambda r: r[0])
    assert canonical(rows) == [(0, "NaN", "NaN"), (1, None, None), (2, 1.5, 1.5),
                               (3, math.inf, math.inf)]


PREDICT_SCHEMA = "id long, f0 double, f1 double, tag string, day date"


@pytest.fixture(scope="module")
def dnn_model(local_env, repo_root, tmp_path_factory):
    """A SavedModel of the bundled DNN (serving_default and predict), as a directory."""
    directory = str(tmp_path_factory.mktemp("dnn") / "model")
    code = (
        "import sys\n"
        "from akdl.models.tf.dnn.dnn_common import DnnParams, build_model, export_saved_model\n"
        "params = DnnParams(feature_cols=['f0', 'f1'], label_col='label')\n"
        "export_saved_model(build_model(params), params.feature_cols, sys.argv[1])\n"
    )
    import subprocess
    import sys

    env = driver_environ()
    subprocess.run([sys.executable, "-c", code, directory], check=True, env=env, timeout=180,
                   capture_output=True, cwd=repo_root)
    return directory


def predict_rows(n: int):
    return [(i, (i % 17) / 17 - 0.5, (i % 5) / 5, f"t{i}" if i % 3 else None,
             dt.date(2020, 1, 1) + dt.timedelta(days=i)) for i in range(n)]


PREDICT_OUTPUT = ("logits double, class_ids bigint, classes string, probabilities string, "
                  "all_class_ids ARRAY<INT>")


@pytest.mark.parametrize("stream", [False, True], ids=["batch", "stream"])
def test_predictions_are_identical_on_both_paths(dnn_model, stream, caplog):
    caplog.set_level(logging.INFO, logger="akdl.operators")
    rows = predict_rows(300)
    ops = {}
    for path in PATHS:
        op_class = TFSavedModelPredictStreamOp if stream else TFSavedModelPredictBatchOp
        source = (MemSourceStreamOp if stream else MemSourceBatchOp)(rows, PREDICT_SCHEMA)
        op = op_class(model_path=dnn_model, signature_def_key="predict",
                      selected_cols="f0, f1", output_schema_str=PREDICT_OUTPUT, data_path=path)
        assert op.linkFrom(source).getColNames() == [
            "id", "f0", "f1", "tag", "day", "logits", "class_ids", "classes", "probabilities",
            "all_class_ids"]
        ops[path] = op
    name = "TFSavedModelPredictStreamOp" if stream else "TFSavedModelPredictBatchOp"
    assert f"{name}: columnar path" in caplog.text and f"{name}: rows path" in caplog.text
    results = {path: canonical(op.collect()) for path, op in ops.items()}
    assert len(results["columnar"]) == 300
    assert_same_predictions(results["columnar"], results["rows"])
    first = results["columnar"][0]
    assert first[6] in (0, 1) and first[7] == str(first[6]) and first[9] == (0, 1)


def test_predict_keeps_the_order_within_a_subtask(dnn_model, local_env):
    try:
        use_local_env(1)
        rows = predict_rows(2_500)
        op = TFSavedModelPredictBatchOp(
            model_path=dnn_model, selected_cols=["f0", "f1"], reserved_cols=["id"],
            output_schema_str="probability double", batch_size=64,
        )
        out = op.linkFrom(MemSourceBatchOp(rows, PREDICT_SCHEMA)).collect()
        assert [r[0] for r in out] == list(range(2_500))
    finally:
        use_local_env(local_env)


def test_a_stage_the_columnar_path_cannot_carry_falls_back_and_says_why(
    local_env, write_script, dnn_model, caplog
):
    caplog.set_level(logging.INFO, logger="akdl.operators")
    script = write_script("echo.py", ECHO)
    stream_op = TensorFlowStreamOp(user_files=[script], main_script_file="echo.py",
                                   output_schema_str="a int")
    stream_op.linkFrom(MemSourceStreamOp([(1,)], "a int"))
    assert "TensorFlowStreamOp: rows path (stream script stages run on the row path" in caplog.text
    vectors = TFSavedModelPredictBatchOp(model_path=dnn_model, signature_def_key="predict",
                                         selected_cols=["f0", "f1"], reserved_cols=["id"],
                                         output_schema_str="probabilities ARRAY<DOUBLE>")
    vectors.linkFrom(MemSourceBatchOp(predict_rows(10), PREDICT_SCHEMA))
    assert "rows path (output column 'probabilities' is an ARRAY<DOUBLE>" in caplog.text
    out = vectors.collect()
    assert len(out) == 10 and all(sum(r[1]) == pytest.approx(1.0) for r in out)


def test_forcing_the_columnar_path_where_it_cannot_run_names_the_reason(local_env, write_script):
    script = write_script("echo.py", ECHO)
    op = TensorFlowStreamOp(user_files=[script], main_script_file="echo.py",
                            output_schema_str="a int", data_path="columnar")
    with pytest.raises(ParamError, match="'dataPath' is 'columnar', but stream script stages"):
        op.linkFrom(MemSourceStreamOp([(1,)], "a int"))
    with pytest.raises(ParamError, match="dataPath"):
        TensorFlowBatchOp(data_path="arrow")
