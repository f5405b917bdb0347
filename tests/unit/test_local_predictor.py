"""LocalPredictor and SavedModelPredictor on small real SavedModels."""

import dataclasses
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap

import numpy as np
import pandas as pd
import predict_models
import pytest

from akdl import LocalPredictor
from akdl.model_rows import saved_model_to_model_rows
from akdl.predict import SavedModelPredictor
from bridge.errors import ParamError, PredictError
from bridge.predict_spec import predict_spec, resolved
from bridge.schema import ColumnNotFoundError, parse_schema

F32 = np.float32


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory):
    return predict_models.save_two_inputs(tmp_path_factory.mktemp("two") / "model")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    return predict_models.save_matrix(tmp_path_factory.mktemp("matrix") / "model")


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    return predict_models.save_text(tmp_path_factory.mktemp("text") / "model")


@pytest.fixture(scope="module")
def tensor_model(tmp_path_factory):
    return predict_models.save_tensor(tmp_path_factory.mktemp("tensor") / "model")


ROWS = [(1, 0.1, 2.0), (2, 3.0, -4.5), (3, -1.25, 0.0)]
SCHEMA = "id long, x double, y double"
MATRIX_SCHEMA = "f ARRAY<DOUBLE>, n int"


def expected_score(rows):
    return [F32(x) * F32(2) + F32(y) for _, x, y in rows]


def two_input_predictor(model, **params):
    params.setdefault("selected_cols", ["x", "y"])
    params.setdefault("output_schema_str", "score double, vec ARRAY<DOUBLE>")
    return LocalPredictor(model, SCHEMA, **params)


# --- results --------------------------------------------------------------------------------


def test_predicts_reserved_columns_then_outputs(two_inputs):
    lp = two_input_predictor(two_inputs)
    assert lp.result_col_names == ["id", "x", "y", "score", "vec"]
    out = lp.predict(ROWS)
    assert [r[:3] for r in out] == ROWS
    np.testing.assert_allclose([r[3] for r in out], expected_score(ROWS), rtol=1e-6)
    np.testing.assert_allclose([r[4] for r in out], [[F32(x), F32(y)] for _, x, y in ROWS])
    assert all(type(r) is tuple and type(r[3]) is float and type(r[4]) is list for r in out)


def test_reserved_cols_keep_input_order(two_inputs):
    lp = two_input_predictor(two_inputs, reserved_cols=["y", "id"],
                             output_schema_str="score double")
    assert lp.result_col_names == ["id", "y", "score"]
    out = lp.predict(ROWS)
    assert [r[:2] for r in out] == [(i, y) for i, _, y in ROWS]
    np.testing.assert_allclose([r[2] for r in out], expected_score(ROWS), rtol=1e-6)


def test_output_named_like_an_input_column_takes_its_place(two_inputs):
    lp = two_input_predictor(two_inputs, output_schema_str="x string, score double",
                             output_signature_defs=["vec", "score"], reserved_cols=["id"])
    assert lp.result_col_names == ["id", "x", "score"]
    first = lp.predict(ROWS[:1])[0]
    assert first[0] == 1 and first[1] == "0.1 2.0"


def test_names_may_be_comma_separated_or_json(two_inputs):
    lp = two_input_predictor(two_inputs, selected_cols='["y", "x"]', input_signature_defs="y,x",
                             reserved_cols="id", output_schema_str="score double")
    np.testing.assert_allclose([r[1] for r in lp.predict(ROWS)], expected_score(ROWS), rtol=1e-6)


def test_rows_are_predicted_in_batches(two_inputs):
    rows = [(i, float(i), 1.0) for i in range(10)]
    lp = two_input_predictor(two_inputs, batch_size=3, output_schema_str="score double")
    sizes = []
    predict = lp._predictor.predict

    def counting(batch):
        sizes.append(len(batch))
        return predict(batch)

    lp._predictor.predict = counting
    out = lp.predict(iter(rows))
    assert sizes == [3, 3, 3, 1]
    np.testing.assert_allclose([r[-1] for r in out], expected_score(rows), rtol=1e-6)
    assert lp.predict([]) == []


def test_string_outputs_are_alink_text_or_json_of_numeric_tensors(two_inputs):
    params = dict(reserved_cols=[], output_schema_str="s string, v string",
                  output_signature_defs=["score", "vec"])
    assert two_input_predictor(two_inputs, **params).predict([(1, 0.1, 0.9)]) == [
        ("1.1", "0.1 0.9")]
    as_json = two_input_predictor(two_inputs, tensor_string_format="json", **params)
    assert as_json.predict([(1, 0.1, 0.9)]) == [("1.1", "[0.1, 0.9]")]
    with pytest.raises(ParamError, match="tensor_string_format"):
        two_input_predictor(two_inputs, tensor_string_format="csv", **params)


def test_other_signature_and_typed_outputs(two_inputs):
    lp = LocalPredictor(two_inputs, "x double", signature_def_key="flags", reserved_cols=[],
                        output_schema_str="positive boolean, rounded int, days date")
    assert lp.predict([(2.6,), (-0.4,)]) == [
        (True, 3, pd.Timestamp("1970-01-03").date()),
        (False, 0, pd.Timestamp("1970-01-01").date()),
    ]


def test_array_input_and_integer_column_input(matrix):
    lp = LocalPredictor(matrix, MATRIX_SCHEMA, input_signature_defs=["features", "count"],
                        output_schema_str="total double, scaled ARRAY<FLOAT>")
    rows = [([1.0, 2.0, 3.0], 4), ([0.5, 0.0, -1.0], 0)]
    out = lp.predict(rows)
    weights = np.array(predict_models.WEIGHTS)
    for (features, count), (_, _, total, scaled) in zip(rows, out, strict=True):
        assert total == pytest.approx(np.dot(features, weights) + count)
        np.testing.assert_allclose(scaled, np.array(features) * weights)


def test_string_input_model(text_model):
    lp = LocalPredictor(text_model, "text string", output_schema_str="length long, upper string")
    assert lp.predict([("héllo",), ("",)]) == [("héllo", 5, "HéLLO"), ("", 0, "")]


def test_alink_tensor_strings_with_and_without_shape(tensor_model):
    lp = LocalPredictor(tensor_model, "t string", reserved_cols=[],
                        output_schema_str="row_sums ARRAY<DOUBLE>, total double")
    out = lp.predict([("$2,3$1 2 3 4 5 6",), ("1 1 1 2 2 2",), ("$6$0 0 0 0 0 1",)])
    assert out == [([6.0, 15.0], 21.0), ([3.0, 6.0], 9.0), ([0.0, 1.0], 1.0)]


def test_keras_export(tmp_path):
    directory, model = predict_models.save_keras(tmp_path / "keras")
    lp = LocalPredictor(directory, "features ARRAY<FLOAT>", reserved_cols=[],
                        output_schema_str="probs ARRAY<DOUBLE>", output_signature_defs="output_0")
    features = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]], F32)
    out = lp.predict([(list(map(float, f)),) for f in features])
    np.testing.assert_allclose([r[0] for r in out], model(features).numpy(), rtol=1e-5)


# --- model sources --------------------------------------------------------------------------


def test_zip_tar_and_model_rows_predict_the_same(two_inputs, tmp_path):
    zipped = shutil.make_archive(str(tmp_path / "m"), "zip", two_inputs)
    tarred = tmp_path / "m.tar.gz"
    with tarfile.open(tarred, "w:gz") as tar:
        tar.add(two_inputs, arcname="export")
    rows = saved_model_to_model_rows(two_inputs)
    model_df = pd.DataFrame(rows, columns=["model_id", "model_info"])
    expected = two_input_predictor(two_inputs).predict(ROWS)
    for model in (zipped, str(tarred), rows, model_df):
        assert two_input_predictor(model).predict(ROWS) == expected


def test_close_removes_the_unpacked_model(two_inputs):
    with two_input_predictor(saved_model_to_model_rows(two_inputs)) as lp:
        scratch = lp._scratch
        assert os.listdir(scratch)
    assert not os.path.exists(scratch)
    with pytest.raises(PredictError, match="closed"):
        lp.predict(ROWS)


# --- DataFrames -----------------------------------------------------------------------------


def test_predict_dataframe(two_inputs):
    lp = two_input_predictor(two_inputs, reserved_cols=["id"])
    df = pd.DataFrame(ROWS, columns=["id", "x", "y"], index=[10, 11, 12])
    df["extra"] = "ignored"
    out = lp.predict_dataframe(df[["y", "extra", "x", "id"]])
    assert list(out.columns) == ["id", "score", "vec"] and list(out.index) == [10, 11, 12]
    assert out["id"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(out["score"], expected_score(ROWS), rtol=1e-6)
    assert out["vec"].iloc[1] == [3.0, -4.5]


def test_predict_dataframe_missing_column(two_inputs):
    lp = two_input_predictor(two_inputs)
    with pytest.raises(ColumnNotFoundError, match=r"no column 'y'; the columns are: id, x"):
        lp.predict_dataframe(pd.DataFrame({"id": [1], "x": [1.0]}))


def test_predict_dataframe_null_input(two_inputs):
    lp = two_input_predictor(two_inputs)
    df = pd.DataFrame({"id": [1, 2], "x": [1.0, 2.0], "y": pd.array([1.0, None], "Float64")})
    with pytest.raises(PredictError, match=r"column 'y'.*row 1 of the batch.*NULL"):
        lp.predict_dataframe(df)


# --- errors ---------------------------------------------------------------------------------


def test_unknown_signature_key_lists_the_available_ones(two_inputs):
    with pytest.raises(PredictError) as err:
        two_input_predictor(two_inputs, signature_def_key="predict")
    assert "no signature 'predict'" in str(err.value)
    assert "'flags', 'serving_default'" in str(err.value)


def test_unknown_tag_lists_the_tag_sets(two_inputs):
    with pytest.raises(PredictError) as err:
        two_input_predictor(two_inputs, graph_def_tag="train")
    assert "no MetaGraph tagged 'train'" in str(err.value) and two_inputs in str(err.value)
    assert "tags 'serve' with signatures ['flags', 'serving_default']" in str(err.value)


def test_an_empty_graph_def_tag_means_serve_as_in_the_operators(two_inputs):
    # Once drifted: "" meant "the only MetaGraph" here but "serve" in the operators.
    assert resolved(predict_spec(graph_def_tag="")).graph_def_tags == ("serve",)
    lp = two_input_predictor(two_inputs, graph_def_tag="")
    assert lp._require_open().signature.tags == ("serve",)
    assert len(lp.predict(ROWS)) == 3


def test_comma_separated_names_are_lists_as_in_the_operators(two_inputs):
    # Once drifted: "x,y" was two columns here but one column named "x,y" in the operators.
    by_commas = two_input_predictor(two_inputs, selected_cols="x, y", reserved_cols="id")
    by_list = two_input_predictor(two_inputs, selected_cols=["x", "y"], reserved_cols=["id"])
    assert by_commas.result_col_names == by_list.result_col_names == ["id", "score", "vec"]
    assert by_commas.predict(ROWS) == by_list.predict(ROWS)


def test_unknown_input_name_lists_inputs_with_specs(two_inputs):
    with pytest.raises(PredictError) as err:
        two_input_predictor(two_inputs, input_signature_defs=["x", "z"])
    assert "has no input 'z'" in str(err.value)
    assert "'x' float32[?], 'y' float32[?]" in str(err.value)


def test_unknown_output_name_lists_outputs(two_inputs):
    with pytest.raises(PredictError) as err:
        two_input_predictor(two_inputs, output_schema_str="prob double")
    assert "has no output 'prob' (set outputSignatureDefs)" in str(err.value)
    assert "'score' float32[?], 'vec' float32[?, 2]" in str(err.value)


def test_column_count_mismatches(two_inputs):
    with pytest.raises(PredictError, match=r"2 selected columns \['x', 'y'\] but 1 "
                                           r"inputSignatureDefs \['x'\]"):
        two_input_predictor(two_inputs, input_signature_defs=["x"])
    with pytest.raises(PredictError, match=r"2 output columns .* but 1 outputSignatureDefs"):
        two_input_predictor(two_inputs, output_signature_defs=["score"])
    with pytest.raises(PredictError, match=r"has no input 'id' \(set inputSignatureDefs\)"):
        LocalPredictor(two_inputs, SCHEMA, output_schema_str="score double")  # all 3 selected


def test_unfed_signature_input(two_inputs):
    with pytest.raises(PredictError, match=r"input\(s\) 'y' would not be fed"):
        two_input_predictor(two_inputs, selected_cols=["x"])


def test_unfeedable_shape_is_caught_before_any_data(matrix):
    with pytest.raises(PredictError) as err:
        LocalPredictor(matrix, "a double, n int", input_signature_defs=["features", "count"],
                       output_schema_str="total double")
    text = str(err.value)
    assert "column 'a' (DOUBLE)" in text and "'features' float32[?, 3]" in text


def test_wrong_array_width_names_the_input_row(matrix):
    lp = LocalPredictor(matrix, MATRIX_SCHEMA, input_signature_defs=["features", "count"],
                        output_schema_str="total double", batch_size=2)
    rows = [([1.0, 2.0, 3.0], 1)] * 2 + [([1.0, 2.0], 1)] * 2
    with pytest.raises(PredictError, match=r"rows of shape \[2\].*input rows 2\.\.3"):
        lp.predict(rows)


def test_null_input_names_column_and_row(two_inputs):
    lp = two_input_predictor(two_inputs, batch_size=2)
    with pytest.raises(PredictError) as err:
        lp.predict([(1, 1.0, 2.0), (2, 1.0, 2.0), (3, None, 2.0)])
    text = str(err.value)
    assert "column 'x'" in text and "row 0 of the batch" in text and "input rows 2..2" in text


def test_rows_of_the_wrong_width(two_inputs):
    with pytest.raises(PredictError, match="input row 1 holds 2 values"):
        two_input_predictor(two_inputs).predict([(1, 1.0, 2.0), (2, 1.0)])


def test_bad_model_path(tmp_path):
    bad = tmp_path / "model.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PredictError, match="cannot unpack model archive"):
        LocalPredictor(str(bad), SCHEMA, output_schema_str="score double")
    with pytest.raises(PredictError, match="does not exist"):
        LocalPredictor(str(tmp_path / "none"), SCHEMA, output_schema_str="score double")


def test_parameter_errors(two_inputs):
    with pytest.raises(TypeError, match=r"'selectedCols' \(did you mean 'selected_cols'\?\)"):
        LocalPredictor(two_inputs, SCHEMA, selectedCols=["x"], output_schema_str="score double")
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        LocalPredictor(two_inputs, SCHEMA, bogus=1, output_schema_str="score double")
    with pytest.raises(ParamError, match="output_schema_str' is required"):
        LocalPredictor(two_inputs, SCHEMA)
    with pytest.raises(ParamError, match="batch_size' must be a positive integer"):
        two_input_predictor(two_inputs, batch_size=0)
    with pytest.raises(ColumnNotFoundError, match="no column 'z'; the columns are: id, x, y"):
        two_input_predictor(two_inputs, selected_cols=["x", "z"])
    with pytest.raises(ColumnNotFoundError, match="no column 'w'"):
        two_input_predictor(two_inputs, reserved_cols=["w"])


def test_operator_only_params_are_accepted(two_inputs):
    lp = two_input_predictor(two_inputs, intra_op_parallelism=2, python_env=sys.executable)
    assert len(lp.predict(ROWS)) == 3


# --- SavedModelPredictor --------------------------------------------------------------------


def test_saved_model_predictor_calls_the_signature_once_per_batch(two_inputs):
    predictor = SavedModelPredictor(two_inputs, parse_schema("x double, y double"),
                                    parse_schema("score float, vec string"),
                                    resolved(predict_spec()))
    calls = []
    function = predictor.signature.function

    def counting(**feeds):
        calls.append(sorted(feeds))
        return function(**feeds)

    predictor._signature = dataclasses.replace(predictor.signature, function=counting)
    out = predictor.predict([(1.0, 2.0), (0.5, 0.25)])
    assert calls == [["x", "y"]]
    assert out == [(4.0, "1.0 2.0"), (1.25, "0.5 0.25")]
    assert predictor.predict([]) == [] and len(calls) == 1


def test_output_without_one_row_per_input_row(two_inputs):
    predictor = SavedModelPredictor(two_inputs, parse_schema("x double"),
                                    parse_schema("batch_total double"),
                                    resolved(predict_spec(signature_def_key="flags")))
    assert predictor.predict([(1.5,)]) == [(1.5,)]
    with pytest.raises(PredictError, match=r"'batch_total' \(float32\[1\]\): expected one entry "
                                           r"per input row \(2\)"):
        predictor.predict([(1.0,), (2.0,)])


def test_importing_akdl_stays_light():
    code = textwrap.dedent("""
        import sys
        import akdl, akdl.predict, akdl.local_predictor
        from akdl.predict import model_source, inputs, outputs, alink_tensor
        import bridge.predict_columns
        assert "tensorflow" not in sys.modules, "TensorFlow was imported"
        assert akdl.LocalPredictor.__name__ == "LocalPredictor"
        assert "tensorflow" not in sys.modules, "TensorFlow was imported"
    """)
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo_root)
