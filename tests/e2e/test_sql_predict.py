"""Predict from SQL: `register_predict_function` in batch and stream queries run by plain PyFlink.

Every query here is executed with PyFlink's own ``execute()``, not through akdl's job runner, so
the TF processes run without a coordinator, at the environment's parallelism (2).
"""

from __future__ import annotations

import os
import random
import sys

import pytest
from py4j.protocol import Py4JJavaError

from bridge.errors import ParamError
from operators import (
    MemSourceBatchOp,
    MemSourceStreamOp,
    TFSavedModelPredictBatchOp,
    TFSavedModelPredictStreamOp,
    get_batch_table_env,
    get_stream_table_env,
    register_predict_function,
)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "unit"))
from predict_models import save_two_inputs  # noqa: E402

pytestmark = pytest.mark.e2e

SCHEMA = "id long, f0 double, f1 double"


def data_rows(n: int = 300) -> list[tuple]:
    rng = random.Random(7)
    return [(i, rng.uniform(-2, 2), rng.uniform(-2, 2)) for i in range(n)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """serving_default: x, y -> score = 2x + y, vec = [x, y]; flags: x -> positive, rounded."""
    return save_two_inputs(tmp_path_factory.mktemp("sql_predict") / "model")


@pytest.fixture(scope="module")
def batch_table(local_env):
    """The data as the view ``points`` of the batch table environment."""
    t_env = get_batch_table_env()
    t_env.create_temporary_view("points", MemSourceBatchOp(data_rows(), SCHEMA).getTable())
    return t_env


def query(t_env, sql: str) -> list[tuple]:
    """The rows of a query run by PyFlink itself, sorted by their first column."""
    with t_env.sql_query(sql).execute().collect() as results:
        return sorted((tuple(r) for r in results), key=lambda r: r[0])


def op_rows(op) -> list[tuple]:
    return sorted((tuple(r) for r in op.collect()), key=lambda r: r[0])


def test_batch_scalar_and_row_outputs_equal_the_predict_op(model_dir, batch_table):
    register_predict_function("score_of", model_dir, "x double, y double", "score double")
    register_predict_function("both_of", model_dir, "x double, y double",
                              "score double, vec ARRAY<DOUBLE>")
    got = query(batch_table, "SELECT id, s, p.score, p.vec FROM (SELECT id, score_of(f0, f1) "
                             "AS s, both_of(f0, f1) AS p FROM points)")
    expected = op_rows(TFSavedModelPredictBatchOp(
        model_path=model_dir, selected_cols=["f0", "f1"], input_signature_defs=["x", "y"],
        reserved_cols=["id"], output_schema_str="score double, vec ARRAY<DOUBLE>",
    ).linkFrom(MemSourceBatchOp(data_rows(), SCHEMA)))
    assert [r[0] for r in got] == list(range(300))
    assert [r[:2] for r in got] == [r[:2] for r in expected]  # the scalar function
    assert [(r[0], r[2], list(r[3])) for r in got] == [(*r[:2], list(r[2])) for r in expected]
    _, f0, f1 = data_rows()[1]
    assert got[1][1] == pytest.approx(2 * f0 + f1, rel=1e-6)
    assert list(got[1][3]) == pytest.approx([f0, f1], rel=1e-6)


def test_stream_row_output_equals_the_predict_op(model_dir, local_env):
    t_env = get_stream_table_env()
    t_env.create_temporary_view("live_points", MemSourceStreamOp(data_rows(), SCHEMA).getTable())
    params = dict(signature_def_key="flags", input_signature_defs=["x"], batch_size=64)
    register_predict_function("flags_of", model_dir, "a double",
                              "positive boolean, rounded bigint", t_env=t_env, **params)
    got = query(t_env, "SELECT id, p.positive, p.rounded "
                       "FROM (SELECT id, flags_of(f0) AS p FROM live_points)")
    expected = op_rows(TFSavedModelPredictStreamOp(
        model_path=model_dir, selected_cols=["f0"], reserved_cols=["id"],
        output_schema_str="positive boolean, rounded bigint", **params,
    ).linkFrom(MemSourceStreamOp(data_rows(), SCHEMA)))
    assert [r[0] for r in got] == list(range(300))
    assert got == expected
    assert {r[1] for r in got} == {True, False}
    assert all(r[1] == (x > 0) and r[2] == round(x) for r, (_, x, _) in zip(got, data_rows()))


# --- clear errors -------------------------------------------------------------------------------


def test_bad_registrations_fail_at_once_naming_the_function_and_parameter(model_dir, local_env):
    cases = [
        (dict(input_schema_str="x vector"), "inputSchemaStr", "vector"),
        (dict(output_schema_str=""), "outputSchemaStr", "empty"),
        (dict(model_path=model_dir + "-missing"), "modelPath", "does not exist"),
        (dict(selected_cols=["x"]), "selectedCols", "arguments"),
        (dict(input_signature_defs=["x"]), "inputSignatureDefs", "2 columns"),
        (dict(name="abs"), "name", "built-in"),
        (dict(name="no such"), "name", "identifier"),
    ]
    for change, param, words in cases:
        args = {"name": "bad_fn", "model_path": model_dir, "input_schema_str": "x double, y double",
                "output_schema_str": "score double", **change}
        with pytest.raises(ParamError) as failure:
            register_predict_function(**args)
        assert failure.value.param == param, change
        assert f"register_predict_function({args['name']!r})" in str(failure.value)
        assert words in str(failure.value), (change, str(failure.value))


def test_a_wrong_argument_count_fails_sql_validation(model_dir, batch_table):
    register_predict_function("two_args", model_dir, "x double, y double", "score double")
    with pytest.raises(Py4JJavaError) as failure:
        batch_table.sql_query("SELECT two_args(f0) FROM points")
    assert "two_args" in str(failure.value) and "ValidationException" in str(failure.value)


def test_a_model_error_fails_the_query_naming_the_function_and_the_inputs(model_dir, batch_table):
    register_predict_function("misnamed", model_dir, "a double, b double", "score double")
    with pytest.raises(Py4JJavaError) as failure:
        query(batch_table, "SELECT id, misnamed(f0, f1) FROM points")
    message = str(failure.value)
    assert "register_predict_function('misnamed')" in message
    assert "'a'" in message and "'x'" in message and "'y'" in message
