"""Row values <-> signature tensors (akdl.predict.convert): pure numpy, no TensorFlow."""

import datetime as dt
import decimal
import json

import numpy as np
import pytest

from akdl.predict.alink_tensor import parse_alink_tensor
from akdl.predict.inputs import input_converter
from akdl.predict.outputs import output_converter
from akdl.predict.tensors import TensorInfo
from bridge.errors import PredictError
from bridge.schema import parse_type


def spec(dtype, *shape, name="t"):
    return TensorInfo(name, dtype, tuple(shape))


def feed(type_text, tensor, values, column="c"):
    return input_converter(column, parse_type(type_text), tensor).to_array(values)


def read(type_text, tensor, array, batch=None, column="out"):
    array = np.asarray(array)
    converter = output_converter(column, parse_type(type_text), tensor)
    return converter.to_values(array, batch or len(array))


def strings(*values):
    array = np.empty(len(values), dtype=object)
    array[:] = [v.encode() if isinstance(v, str) else v for v in values]
    return array


# --- TensorInfo ---------------------------------------------------------------------------


def test_tensor_info_describes_dtype_and_shape():
    assert spec("float32", None, 3).describe() == "float32[?, 3]"
    assert str(spec("int64", None, name="x")) == "'x' int64[?]"
    assert TensorInfo("u", "string", None).describe() == "string[*]"
    assert TensorInfo("u", "string", None).rank is None


# --- inputs: scalars ------------------------------------------------------------------------


def test_double_column_feeds_float32_vector():
    array = feed("double", spec("float32", None), [0.5, 1.25, -3.0])
    assert array.dtype == np.float32 and array.shape == (3,)
    np.testing.assert_allclose(array, [0.5, 1.25, -3.0])


def test_scalar_column_feeds_rank_two_input_as_column_vector():
    array = feed("long", spec("float32", None, 1), [1, 2])
    assert array.shape == (2, 1) and array.dtype == np.float32
    np.testing.assert_allclose(array, [[1.0], [2.0]])
    assert feed("long", spec("int64", None, None), [1, 2]).shape == (2, 1)


def test_unknown_rank_input_takes_one_value_per_row():
    array = feed("int", TensorInfo("t", "int32", None), [7, 8])
    assert array.dtype == np.int32 and array.shape == (2,)


def test_boolean_date_timestamp_and_decimal_columns_become_numbers():
    np.testing.assert_array_equal(feed("boolean", spec("int64", None), [True, False]), [1, 0])
    np.testing.assert_array_equal(feed("boolean", spec("bool", None), [True, False]), [True, False])
    days = feed("date", spec("int64", None), [dt.date(1970, 1, 2), dt.date(1969, 12, 31)])
    np.testing.assert_array_equal(days, [1, -1])
    stamps = [dt.datetime(1970, 1, 1, 0, 0, 1, 500_000),
              dt.datetime(1970, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))]
    np.testing.assert_array_equal(feed("timestamp(3)", spec("int64", None), stamps), [1500, 0])
    dec = feed("decimal(10, 2)", spec("float64", None), [decimal.Decimal("1.25")])
    np.testing.assert_allclose(dec, [1.25])


def test_numbers_are_cast_to_integer_inputs_within_range():
    np.testing.assert_array_equal(feed("double", spec("int64", None), [2.0, -3.0]), [2, -3])
    with pytest.raises(PredictError, match=r"column 'c' .*'t' int8\[\?\].*out of range for int8"):
        feed("long", spec("int8", None), [1, 300])


def test_value_of_the_wrong_type_names_column_and_row():
    with pytest.raises(PredictError, match=r"column 'c' \(DOUBLE\).*row 1 of the batch.*'abc'"):
        feed("double", spec("float32", None), [1.0, "abc"])


def test_null_input_names_column_and_row():
    with pytest.raises(PredictError) as err:
        feed("double", spec("float32", None, name="x"), [1.0, 2.0, None], column="price")
    assert "column 'price'" in str(err.value)
    assert "'x' float32[?]" in str(err.value)
    assert "row 2 of the batch" in str(err.value) and "NULL" in str(err.value)


def test_scalar_column_cannot_feed_rank_three_input():
    with pytest.raises(PredictError) as err:
        input_converter("a", parse_type("double"), spec("float32", None, 2, 3, name="img"))
    text = str(err.value)
    assert "column 'a' (DOUBLE)" in text and "'img' float32[?, 2, 3]" in text
    assert "one value per row, shape [batch]" in text


def test_rank_zero_input_cannot_take_a_batch():
    with pytest.raises(PredictError, match="rank-0"):
        input_converter("a", parse_type("double"), spec("float32"))


def test_fixed_batch_dimension_must_match_the_batch():
    assert feed("double", spec("float32", 2), [1.0, 2.0]).shape == (2,)
    with pytest.raises(PredictError, match="fixed batch dimension of 2.*holds 3 rows"):
        feed("double", spec("float32", 2), [1.0, 2.0, 3.0])


def test_type_mismatches_fail_at_construction():
    with pytest.raises(PredictError, match=r"column 'n' \(BIGINT\).*only STRING or BYTES"):
        input_converter("n", parse_type("long"), spec("string", None))
    with pytest.raises(PredictError, match=r"column 'b' \(BYTES\).*cannot feed a numeric input"):
        input_converter("b", parse_type("bytes"), spec("float32", None))
    with pytest.raises(PredictError, match="cannot feed inputs of dtype complex64"):
        input_converter("d", parse_type("double"), spec("complex64", None))


# --- inputs: arrays and strings -------------------------------------------------------------


def test_array_column_feeds_batch_by_k():
    array = feed("ARRAY<DOUBLE>", spec("float32", None, 3), [[1, 2, 3], [4.5, 5, 6]])
    assert array.shape == (2, 3) and array.dtype == np.float32
    np.testing.assert_allclose(array, [[1, 2, 3], [4.5, 5, 6]])
    assert feed("ARRAY<INT>", spec("int64", None, None), [np.arange(4)]).shape == (1, 4)


def test_array_rows_are_reshaped_to_a_known_inner_shape():
    array = feed("ARRAY<DOUBLE>", spec("float32", None, 2, 3), [list(range(6))])
    np.testing.assert_allclose(array, [[[0, 1, 2], [3, 4, 5]]])


def test_array_rows_of_different_lengths_name_the_column():
    with pytest.raises(PredictError) as err:
        feed("ARRAY<DOUBLE>", spec("float32", None, None), [[1, 2], [3, 4], [5]], column="v")
    assert "column 'v'" in str(err.value) and "row 2" in str(err.value)
    assert "holds 1 values but row 0 holds 2" in str(err.value)


def test_array_of_the_wrong_width_names_input_spec_and_what_came():
    with pytest.raises(PredictError) as err:
        feed("ARRAY<DOUBLE>", spec("float32", None, 3, name="features"), [[1, 2, 3, 4]],
             column="v")
    text = str(err.value)
    assert "column 'v' (ARRAY<DOUBLE>)" in text and "'features' float32[?, 3]" in text
    assert "rows of shape [4]" in text


def test_array_column_cannot_feed_a_vector_input():
    with pytest.raises(PredictError, match=r"ARRAY column gives \[batch, k\]"):
        input_converter("v", parse_type("ARRAY<DOUBLE>"), spec("float32", None))


def test_null_element_in_an_array():
    with pytest.raises(PredictError, match="row 0 of the batch: the array holds NULL at index 1"):
        feed("ARRAY<DOUBLE>", spec("float32", None, 2), [[1.0, None]])


def test_string_and_bytes_columns_feed_string_inputs_as_bytes():
    array = feed("string", spec("string", None), ["héllo", "b"])
    assert array.dtype == object and array.tolist() == ["héllo".encode(), b"b"]
    assert feed("bytes", spec("string", None, 1), [b"\x00\xff"]).tolist() == [[b"\x00\xff"]]
    matrix = feed("ARRAY<STRING>", spec("string", None, 2), [["a", "b"], ["c", "d"]])
    assert matrix.shape == (2, 2) and matrix[1, 0] == b"c"


def test_alink_vector_and_tensor_strings():
    np.testing.assert_allclose(parse_alink_tensor("1 2.5 -3"), [1, 2.5, -3])
    np.testing.assert_allclose(parse_alink_tensor("1,2, 3"), [1, 2, 3])
    tensor = parse_alink_tensor("$2,3$1 2 3 4 5 6", np.float32)
    assert tensor.shape == (2, 3) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_allclose(parse_alink_tensor("$5$0:1.5 3:2"), [1.5, 0, 0, 2, 0])
    assert parse_alink_tensor("$$7").shape == ()
    assert parse_alink_tensor("9007199254740993", np.int64) == 9007199254740993
    with pytest.raises(ValueError, match="needs 6 values, got 5"):
        parse_alink_tensor("$2,3$1 2 3 4 5")
    with pytest.raises(ValueError, match="needs its size"):
        parse_alink_tensor("0:1 2:3")


def test_string_column_feeds_numeric_input_as_alink_tensors():
    flat = feed("string", spec("float32", None, 3), ["1 2 3", "4 5 6"])
    np.testing.assert_allclose(flat, [[1, 2, 3], [4, 5, 6]])
    shaped = feed("string", spec("float32", None, 2, 3), ["$2,3$1 2 3 4 5 6", "6 5 4 3 2 1"])
    assert shaped.shape == (2, 2, 3)
    np.testing.assert_allclose(shaped[0], [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_allclose(shaped[1], [[6, 5, 4], [3, 2, 1]])
    scalars = feed("string", spec("int64", None), ["7", "$$8"])
    assert scalars.dtype == np.int64 and scalars.tolist() == [7, 8]


def test_bad_alink_strings_name_column_and_row():
    with pytest.raises(PredictError, match=r"column 's'.*row 1 .*'1 x 3' is not an Alink tensor"):
        feed("string", spec("float32", None, 3), ["1 2 3", "1 x 3"], column="s")
    with pytest.raises(PredictError, match=r"row 0 .*shape \[4\], but the input takes rows of "
                                           r"shape \[2, 3\]"):
        feed("string", spec("float32", None, 2, 3), ["1 2 3 4"], column="s")
    with pytest.raises(PredictError, match=r"row 1 .*shape \[2\] but row 0's has \[3\]"):
        feed("string", spec("float32", None, None), ["1 2 3", "1 2"], column="s")


# --- outputs --------------------------------------------------------------------------------


def test_scalar_columns_from_vector_and_column_tensors():
    assert read("double", spec("float32", None), np.array([0.5, 2.0], np.float32)) == [0.5, 2.0]
    assert read("double", spec("float64", None, 1), [[1.5], [2.5]]) == [1.5, 2.5]
    values = read("long", spec("int64", None), np.array([3, -4]))
    assert values == [3, -4] and all(type(v) is int for v in values)


def test_integer_columns_take_whole_floats_only():
    assert read("int", spec("float32", None), np.array([2.0, -1.0], np.float32)) == [2, -1]
    with pytest.raises(PredictError, match=r"output column 'out' \(INT\).*0\.5 is not a whole"):
        read("int", spec("float32", None), np.array([2.0, 0.5], np.float32))
    with pytest.raises(PredictError, match="300 is out of range for TINYINT"):
        read("tinyint", spec("int64", None), np.array([1, 300]))


def test_boolean_column_from_bool_or_zero_one_tensor():
    assert read("boolean", spec("bool", None, 1), np.array([[True], [False]])) == [True, False]
    assert read("boolean", spec("int32", None), np.array([0, 1], np.int32)) == [False, True]
    with pytest.raises(PredictError, match="the value 2 is not 0 or 1"):
        read("boolean", spec("int32", None), np.array([0, 2], np.int32))


def test_decimal_date_and_timestamp_columns():
    assert read("decimal(10, 2)", spec("float64", None), [1.005, 2.5]) == [
        decimal.Decimal("1.00"), decimal.Decimal("2.50")]  # 1.005 is 1.00499999... in binary
    assert read("date", spec("int64", None), np.array([0, 31])) == [
        dt.date(1970, 1, 1), dt.date(1970, 2, 1)]
    assert read("timestamp", spec("int64", None), np.array([1500])) == [
        dt.datetime(1970, 1, 1, 0, 0, 1, 500_000)]


def test_array_column_from_matrix():
    values = read("ARRAY<DOUBLE>", spec("float32", None, 2),
                  np.array([[0.25, 0.75], [1, 0]], np.float32))
    assert values == [[0.25, 0.75], [1.0, 0.0]]
    assert read("ARRAY<STRING>", spec("string", None, 2), np.array([[b"a", b"b"]], dtype=object),
                ) == [["a", "b"]]


def test_string_column_from_string_tensor_decodes():
    assert read("string", spec("string", None), strings("héllo", "x")) == ["héllo", "x"]
    assert read("bytes", spec("string", None), strings(b"\x00")) == [b"\x00"]


def test_string_column_from_numeric_tensor_is_alink_text_per_row_by_default():
    vectors = read("string", spec("float32", None, 2), np.array([[0.1, 0.9], [1, 0]], np.float32))
    assert vectors == ["0.1 0.9", "1.0 0.0"]
    assert read("string", spec("float32", None), np.array([0.5], np.float32)) == ["0.5"]
    assert read("string", spec("int64", None, 2, 2), np.arange(4).reshape(1, 2, 2)) == [
        "$2,2$0 1 2 3"]
    assert read("string", spec("bool", None, 2), np.array([[True, False]])) == ["true false"]
    specials = np.array([[np.nan, np.inf, -np.inf]], np.float32)
    assert read("string", spec("float32", None, 3), specials) == ["NaN Infinity -Infinity"]
    assert read("string", spec("string", None, 2), np.array([[b"a", b"b"]], dtype=object)) == [
        "a b"]


@pytest.mark.parametrize(
    ("dtype", "shape"),
    [("float32", (3,)), ("float32", (2, 3)), ("float64", (2, 2, 2)), ("int64", (4,)),
     ("int32", (3, 1)), ("bool", (2, 2)), ("float32", (1,))],
)
def test_alink_text_reads_back_as_the_same_tensor(dtype, shape):
    rng = np.random.default_rng(3)
    batch = (rng.normal(size=(5, *shape)) * 1000).astype(dtype)
    if dtype == "float32":
        batch[0].flat[0] = 1.0e-7  # scientific notation survives too
    texts = read("string", spec(dtype, None, *shape), batch)
    for text, row in zip(texts, batch, strict=True):
        back = parse_alink_tensor(text, np.dtype(dtype))
        np.testing.assert_array_equal(back.reshape(row.shape), row)
        assert back.shape == (row.shape if len(shape) >= 2 else (row.size,))


def test_string_column_from_numeric_tensor_is_json_per_row_when_asked():
    def read_json(ftype, tensor, array):
        return output_converter("out", parse_type(ftype), tensor, "json").to_values(
            array, len(array))

    vectors = read_json("string", spec("float32", None, 2),
                        np.array([[0.1, 0.9], [1, 0]], np.float32))
    assert vectors == ["[0.1, 0.9]", "[1.0, 0.0]"]
    assert json.loads(vectors[0]) == [0.1, 0.9]
    assert read_json("string", spec("float32", None), np.array([0.5], np.float32)) == ["0.5"]
    assert read_json("string", spec("int64", None, 2, 2), np.arange(4).reshape(1, 2, 2)) == [
        "[[0, 1], [2, 3]]"]
    assert read_json("string", spec("string", None, 2), np.array([[b"a", b"b"]], dtype=object)) == [
        '["a", "b"]']


def test_output_shape_that_does_not_fit_names_column_and_tensor():
    with pytest.raises(PredictError) as err:
        output_converter("p", parse_type("double"), spec("float32", None, 3, name="probs"))
    text = str(err.value)
    assert "output column 'p' (DOUBLE)" in text and "'probs'" in text
    assert "float32[?, 3]" in text and "[batch] or [batch, 1]" in text
    with pytest.raises(PredictError, match=r"ARRAY column needs a \[batch, k\] tensor"):
        output_converter("p", parse_type("ARRAY<DOUBLE>"), spec("float32", None))
    with pytest.raises(PredictError, match=r"float32\[2, 3\].*one entry per input row \(3\)"):
        read("ARRAY<DOUBLE>", TensorInfo("t", "float32", None), np.zeros((2, 3), np.float32),
             batch=3)
    with pytest.raises(PredictError, match=r"float32\[2, 3\].*\[batch\] or \[batch, 1\]"):
        read("double", TensorInfo("t", "float32", None), np.zeros((2, 3), np.float32))


def test_output_dtype_that_does_not_fit_fails_at_construction():
    with pytest.raises(PredictError, match="DATE column needs an integer tensor"):
        output_converter("d", parse_type("date"), spec("float32", None))
    with pytest.raises(PredictError, match="DOUBLE column needs a numeric tensor"):
        output_converter("d", parse_type("double"), spec("string", None))
    with pytest.raises(PredictError, match="BYTES column needs a string tensor"):
        output_converter("d", parse_type("bytes"), spec("int64", None))
