"""Unit tests of operators.params: one declaration drives setters, getters and keywords."""

import json

import pytest

from bridge.errors import ParamError
from bridge.name_lists import parse_name_list
from operators.params import (
    Param,
    WithParams,
    at_least,
    camel_to_snake,
    json_dict_string,
    one_of,
)


class BaseOp(WithParams):
    """A base operator."""

    PARAMS = (
        Param("numWorkers", int, default=1, doc="workers", validate=at_least(1)),
        Param("pythonEnv", str, doc="interpreter"),
    )


class ScriptOp(BaseOp):
    """A script operator."""

    PARAMS = (
        Param("numPSs", int, default=0),
        Param("outputSchemaStr", str, required=True),
        Param("userFiles", list, default=[], convert=parse_name_list),
        Param("userParams", str, default="{}", convert=json_dict_string),
        Param("learningRate", float, default=0.1),
        Param("printProcessInfo", bool, default=False),
        Param("mode", str, default="a", validate=one_of(["a", "b"])),
    )


class OverridingOp(ScriptOp):
    """Redeclares a parameter and hand-writes a setter."""

    PARAMS = (Param("numWorkers", int, default=4),)

    def setPythonEnv(self, value):
        self._set_param("pythonEnv", value.strip())
        return self


def test_camel_to_snake():
    assert camel_to_snake("numWorkers") == "num_workers"
    assert camel_to_snake("numPSs") == "num_pss"
    assert camel_to_snake("intraOpParallelism") == "intra_op_parallelism"
    assert camel_to_snake("outputSchemaStr") == "output_schema_str"
    assert camel_to_snake("signatureDefKey") == "signature_def_key"


def test_generated_setters_chain_and_getters_read():
    op = ScriptOp()
    assert op.setNumWorkers(2) is op
    assert op.setNumWorkers(3).setNumPSs(1).getNumWorkers() == 3
    assert op.getNumPSs() == 1
    assert op.getPythonEnv() is None  # inherited param, no default


def test_defaults_and_get_params():
    op = ScriptOp(num_workers=2)
    params = op.get_params()
    assert params["numWorkers"] == 2
    assert params["numPSs"] == 0
    assert params["userParams"] == "{}"
    assert params["outputSchemaStr"] is None
    assert list(params)[:2] == ["numWorkers", "pythonEnv"]  # base params first


def test_keywords_snake_and_camel():
    a = ScriptOp(num_workers=2, num_pss=1, output_schema_str="a long")
    b = ScriptOp(numWorkers=2, numPSs=1, outputSchemaStr="a long")
    assert a.get_params() == b.get_params()
    assert ScriptOp(num_p_ss=3).getNumPSs() == 3


def test_unknown_keyword_names_operator_param_and_suggests():
    with pytest.raises(ParamError) as info:
        ScriptOp(num_worker=2)
    err = info.value
    assert err.operator == "ScriptOp"
    assert err.param == "num_worker"
    assert "num_workers" in str(err)
    assert "ScriptOp" in str(err)


def test_unknown_keyword_without_close_match_lists_known():
    with pytest.raises(ParamError, match="known parameters: numWorkers"):
        BaseOp(zzz=1)


@pytest.mark.parametrize(
    ("setter", "value"),
    [
        ("setNumWorkers", True),  # bool is not an int
        ("setNumWorkers", 2.0),
        ("setNumWorkers", "2"),
        ("setPythonEnv", 3),
        ("setLearningRate", "0.1"),
        ("setLearningRate", False),
        ("setPrintProcessInfo", 1),
        ("setUserFiles", 5),
        ("setUserFiles", ["a", 1]),
        ("setUserParams", 5),
        ("setUserParams", "[1, 2]"),
        ("setUserParams", "{not json"),
    ],
)
def test_ill_typed_values_raise_at_set_time(setter, value):
    op = ScriptOp()
    with pytest.raises(ParamError) as info:
        getattr(op, setter)(value)
    assert info.value.operator == "ScriptOp"
    assert info.value.param == setter[3].lower() + setter[4:]


def test_ill_typed_keyword_raises_in_constructor():
    with pytest.raises(ParamError, match="numWorkers"):
        ScriptOp(num_workers="two")


def test_int_is_accepted_for_float():
    op = ScriptOp(learning_rate=1)
    assert op.getLearningRate() == 1.0
    assert isinstance(op.getLearningRate(), float)


def test_validators():
    with pytest.raises(ParamError, match="at least 1"):
        ScriptOp().setNumWorkers(0)
    with pytest.raises(ParamError, match="one of"):
        ScriptOp().setMode("c")
    assert ScriptOp().setMode("b").getMode() == "b"


def test_none_unsets():
    op = ScriptOp(num_workers=5)
    op.setNumWorkers(None)
    assert op.getNumWorkers() == 1


def test_required():
    op = ScriptOp()
    with pytest.raises(ParamError) as info:
        op._check_required()
    assert info.value.param == "outputSchemaStr"
    assert "setOutputSchemaStr" in str(info.value)
    op.setOutputSchemaStr("model_id long, model_info string")
    op._check_required()


def test_name_list_parser_takes_lists_json_and_comma_separated_names():
    assert parse_name_list(["a", "b"]) == ["a", "b"]
    assert parse_name_list(("a",)) == ["a"]
    assert parse_name_list('["x.py", "y.py"]') == ["x.py", "y.py"]
    assert parse_name_list("tf_dnn_batch.py") == ["tf_dnn_batch.py"]
    assert parse_name_list("a,b") == ["a", "b"]
    assert parse_name_list(" a , b ") == ["a", "b"]
    assert parse_name_list("") == []
    with pytest.raises(ValueError, match="empty name"):
        parse_name_list("a,,b")
    with pytest.raises(ValueError):
        parse_name_list('["a", "b"')
    with pytest.raises(TypeError):
        parse_name_list([1])
    op = ScriptOp().setUserFiles('["a.py"]')
    assert op.getUserFiles() == ["a.py"]


def test_list_defaults_and_values_are_copied():
    op = ScriptOp()
    op.getUserFiles().append("x")
    assert op.getUserFiles() == []
    files = ["a.py"]
    op.setUserFiles(files)
    files.append("b.py")
    op.getUserFiles().append("c.py")
    assert op.getUserFiles() == ["a.py"]


def test_json_dict_string_converter():
    assert json.loads(json_dict_string({"a": 1, "b": [1, 2]})) == {"a": 1, "b": [1, 2]}
    assert json_dict_string('{"b": 1,  "a": 2}') == '{"b": 1, "a": 2}'  # order kept
    with pytest.raises(ValueError, match="object"):
        json_dict_string("[1]")
    with pytest.raises(TypeError):
        json_dict_string({"a": object()})
    params = {"featureCols": json.dumps(["c0", "c1"]), "batch_size": 16}
    op = ScriptOp().setUserParams(json.dumps(params))
    assert isinstance(op.getUserParams(), str)
    assert json.loads(op.getUserParams()) == params
    assert json.loads(ScriptOp(user_params=params).getUserParams()) == params


def test_inherited_params_merge_and_redeclaration_wins():
    specs = OverridingOp.param_specs()
    assert "numPSs" in specs and "pythonEnv" in specs
    assert OverridingOp().getNumWorkers() == 4
    assert ScriptOp().getNumWorkers() == 1
    assert BaseOp.param_specs().keys() == {"numWorkers", "pythonEnv"}
    assert not hasattr(BaseOp, "setNumPSs")


def test_hand_written_setter_is_kept():
    op = OverridingOp().setPythonEnv("  /usr/bin/python3  ")
    assert op.getPythonEnv() == "/usr/bin/python3"
    assert OverridingOp(python_env=" /x ").getPythonEnv() == "/x"  # keywords use the setter


def test_generated_docs():
    assert "numWorkers / num_workers (int, default 1): workers" in BaseOp.__doc__
    assert ScriptOp.setNumPSs.__name__ == "setNumPSs"
    assert "chaining" in ScriptOp.setNumPSs.__doc__


def test_case_only_clash_is_rejected_at_class_creation():
    with pytest.raises(TypeError, match="share the keyword"):

        class Clash(WithParams):
            PARAMS = (Param("numPs", int), Param("numPS", int))


def test_non_param_in_params_is_rejected():
    with pytest.raises(TypeError, match="not a Param"):

        class Bad(WithParams):
            PARAMS = ("numWorkers",)


def test_aliases_are_extra_keywords():
    class AliasOp(WithParams):
        PARAMS = (Param("numPSs", int, default=0, aliases=("num_ps",)),)

    assert AliasOp(num_ps=2).getNumPSs() == 2
    assert AliasOp(num_pss=3).getNumPSs() == 3
