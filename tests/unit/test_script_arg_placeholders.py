"""scriptArgs: parsing and checking the parameter, filling placeholders, running as __main__."""

import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from akdl.runner.current import current_task_config, task_config_in_use
from akdl.runner.output_tail import OutputTail
from bridge.errors import ParamError
from bridge.protos import task_spec_pb2
from bridge.script_args import (
    PLACEHOLDERS,
    check_script_args,
    fill_script_args,
    offered_placeholders,
    parse_script_args,
)
from operators import TensorFlowBatchOp, TensorFlowStreamOp, TFTableModelTrainBatchOp

BATCH, STREAM, TRAIN = task_spec_pb2.BATCH, task_spec_pb2.STREAM, task_spec_pb2.TRAIN


# --- the parameter --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    ["--data", "{dataset_file}", "--lr", "0.1"],
    ("--data", "{dataset_file}", "--lr", "0.1"),
    '["--data", "{dataset_file}", "--lr", "0.1"]',
    "--data {dataset_file} --lr 0.1",
])
def test_every_spelling_gives_the_same_list(value):
    assert parse_script_args(value) == ["--data", "{dataset_file}", "--lr", "0.1"]


def test_a_command_line_string_keeps_quoted_arguments_whole():
    assert parse_script_args("--name 'a b' --cfg '{\"x\": 1}'") == ["--name", "a b",
                                                                     "--cfg", '{"x": 1}']


@pytest.mark.parametrize("value, words", [
    (["--epochs", 2], "only strings"),
    (3, "must be a list of strings"),
    ('["--a", ', "not a valid JSON list"),
    ("--name 'unclosed", "not a valid command line"),
])
def test_unusable_values_are_refused(value, words):
    with pytest.raises((TypeError, ValueError), match=words):
        parse_script_args(value)


def test_the_operator_keeps_unset_apart_from_empty():
    op = TensorFlowBatchOp()
    assert op.getScriptArgs() is None
    assert op.setScriptArgs([]).getScriptArgs() == []
    assert TensorFlowBatchOp(script_args="--epochs 2").getScriptArgs() == ["--epochs", "2"]
    with pytest.raises(ParamError, match="TensorFlowBatchOp: parameter 'scriptArgs'"):
        op.setScriptArgs([1])


# --- which placeholders, and the checks ------------------------------------------------------


def test_each_kind_offers_its_placeholders():
    assert offered_placeholders(TRAIN) == PLACEHOLDERS
    assert "saved_model_dir" not in offered_placeholders(BATCH)
    assert "dataset_file" in offered_placeholders(BATCH)
    stream = offered_placeholders(STREAM)
    assert not {"dataset_file", "dataset_length", "saved_model_dir"} & set(stream)
    assert {"work_dir", "task_type", "task_index", "num_workers"} <= set(stream)


def test_an_unknown_placeholder_is_named_with_the_valid_ones():
    with pytest.raises(ValueError) as info:
        check_script_args(["--data", "--out={output_dir}"], TRAIN)
    text = str(info.value)
    assert "unknown placeholder {output_dir}" in text
    assert "'--out={output_dir}'" in text
    assert "{dataset_file}, {dataset_length}, {work_dir}, {saved_model_dir}" in text
    assert "{{output_dir}}" in text  # how to write it literally


def test_saved_model_dir_is_only_offered_by_train_ops():
    with pytest.raises(ValueError, match=r"\{saved_model_dir\}.*only the train operators"):
        check_script_args(["--export", "{saved_model_dir}"], BATCH)


def test_a_stream_has_no_dataset_file():
    with pytest.raises(ValueError, match=r"\{dataset_file\}.*read live.*dataset_fn\(\)"):
        check_script_args(["{dataset_file}"], STREAM)


def test_other_braces_and_escapes_are_not_placeholders():
    args = ['{"lr": 0.1}', "{{work_dir}}", "{1}", "{}"]
    check_script_args(args, STREAM)
    assert fill_script_args(args, {"work_dir": "/w"}) == ['{"lr": 0.1}', "{work_dir}", "{1}", "{}"]


def test_placeholders_are_filled_with_their_values():
    values = {"dataset_file": "/w/dataset.tfrecords", "dataset_length": 120, "task_index": 0}
    assert fill_script_args(
        ["--data={dataset_file}", "--n", "{dataset_length}", "x{task_index}y{task_index}"],
        values,
    ) == ["--data=/w/dataset.tfrecords", "--n", "120", "x0y0"]


def test_a_placeholder_without_a_value_fails_clearly():
    with pytest.raises(ValueError, match=r"no value for the placeholder \{work_dir\}"):
        fill_script_args(["{work_dir}"], {"task_index": 0})


@pytest.mark.parametrize("op_class, arg, words", [
    (TFTableModelTrainBatchOp, "{output}", "unknown placeholder {output}"),
    (TensorFlowBatchOp, "{saved_model_dir}", "only the train operators"),
    (TensorFlowStreamOp, "{dataset_length}", "a stream has no length"),
])
def test_the_operator_refuses_bad_placeholders_when_linked(op_class, arg, words):
    op = op_class(main_script_file="train.py", script_args=["--x", arg])
    with pytest.raises(ParamError) as info:
        op._script_args()
    text = str(info.value)
    assert text.startswith(f"{op_class.__name__}: parameter 'scriptArgs' ")
    assert words in text
    assert "{work_dir}" in text


# --- running a script as __main__ (in a child process: its fds 1 and 2 are its own) ---------

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = """
import json, sys
from types import SimpleNamespace
from akdl.runner.current import task_config_in_use
from akdl.runner.script_main import ScriptExitError, run_script_as_main

work_dir, args, kind = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
config = SimpleNamespace(dataset_file=work_dir + "/dataset.tfrecords", dataset_length=7,
                         work_dir=work_dir, task_type="chief", task_index=0, num_workers=1)
outcome = {"ok": True}
try:
    with task_config_in_use(config):
        run_script_as_main("job.py", work_dir, args, config, kind, "chief:0 (subtask 0)")
except ScriptExitError as exc:
    outcome = {"ok": False, "code": exc.code, "message": str(exc), "last_lines": exc.last_lines}
except Exception as exc:
    outcome = {"ok": False, "type": type(exc).__name__, "message": str(exc)}
with open(work_dir + "/outcome.json", "w") as f:
    json.dump(outcome, f)
"""


def run_script(tmp_path, code, args=(), kind=BATCH):
    """Run ``code`` as job.py through run_script_as_main in a child; its outcome and output."""
    (tmp_path / "job.py").write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": REPO, "PYTHONUNBUFFERED": "1"}  # as the TF processes
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path), json.dumps(list(args)), str(kind)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((tmp_path / "outcome.json").read_text()), done.stdout + done.stderr


def test_the_script_runs_as_main_with_filled_argv(tmp_path):
    outcome, _ = run_script(tmp_path, """
        import argparse, json, os, sys
        import akdl
        parser = argparse.ArgumentParser()
        parser.add_argument("--data")
        parser.add_argument("--n", type=int)
        args = parser.parse_args()
        config = akdl.current_task_config()
        out = {"name": __name__, "argv": sys.argv, "data": args.data, "n": args.n,
               "same": config.dataset_length == args.n, "cwd": os.getcwd() == config.work_dir}
        with open(os.path.join(config.work_dir, "result.json"), "w") as f:
            json.dump(out, f)
    """, ["--data", "{dataset_file}", "--n", "{dataset_length}"])
    assert outcome == {"ok": True}
    data = str(tmp_path / "dataset.tfrecords")
    assert json.loads((tmp_path / "result.json").read_text()) == {
        "name": "__main__", "argv": [str(tmp_path / "job.py"), "--data", data, "--n", "7"],
        "data": data, "n": 7, "same": True, "cwd": True,
    }


@pytest.mark.parametrize("ending", ["sys.exit(0)", "sys.exit()", "raise SystemExit(None)", ""])
def test_a_zero_or_empty_exit_succeeds(tmp_path, ending):
    outcome, output = run_script(tmp_path, f"import sys\nprint('done')\n{ending}\n")
    assert outcome == {"ok": True}
    assert "done\n" in output  # the output still reaches the process's stdout


def test_a_nonzero_exit_fails_with_the_code_and_the_last_lines(tmp_path):
    outcome, output = run_script(tmp_path, """
        import logging, sys
        for i in range(30):
            print(f"epoch {i}")
        logging.getLogger("job").warning("loss is nan")
        print("bad data, giving up", file=sys.stderr)
        sys.exit(3)
    """)
    assert outcome["code"] == 3
    text = outcome["message"]
    assert text.startswith("job.py (task chief:0 (subtask 0)): script exited with code 3; its "
                           "last output lines:\n")
    assert text.endswith("epoch 28\nepoch 29\nloss is nan\nbad data, giving up")
    assert "epoch 5\n" not in text  # only the last lines
    assert "epoch 5\n" in output  # every line still reaches the process's output


def test_an_argparse_error_shows_its_usage_message(tmp_path):
    outcome, _ = run_script(tmp_path, """
        import argparse
        argparse.ArgumentParser().parse_args()
    """, ["--nope"])
    assert outcome["code"] == 2
    assert "job.py: error: unrecognized arguments: --nope" in outcome["last_lines"]


def test_a_message_exit_counts_as_code_1(tmp_path):
    outcome, _ = run_script(tmp_path, "import sys\nsys.exit('no GPU')\n")
    assert outcome["code"] == 1
    assert "script exited with code 1 (sys.exit('no GPU'))" in outcome["message"]


def test_an_exception_of_the_script_propagates_unchanged(tmp_path):
    outcome, _ = run_script(tmp_path, "raise KeyError('label')\n")
    assert outcome == {"ok": False, "type": "KeyError", "message": "'label'"}


def test_current_task_config_is_only_set_while_the_script_runs():
    with pytest.raises(RuntimeError, match="only available while a script runs"):
        current_task_config()
    cfg = SimpleNamespace(work_dir="/w")
    with task_config_in_use(cfg):
        assert current_task_config() is cfg
    with pytest.raises(RuntimeError):
        current_task_config()


def test_output_tail_passes_output_on_and_keeps_the_last_lines_in_order(capfd):
    with OutputTail(keep_lines=10) as tail:
        os.write(1, b"one\n")
        os.write(2, b"two\n")
        os.write(1, b"three\nprogress 10%\rprogress 100%\nno newline")
    assert tail.last_lines() == "one\ntwo\nthree\nprogress 100%\nno newline"
    out, err = capfd.readouterr()
    # merged as 2>&1 while the block runs, onto the original stdout
    assert out == "one\ntwo\nthree\nprogress 10%\rprogress 100%\nno newline"
    assert err == ""
    os.write(2, b"after\n")
    assert capfd.readouterr() == ("", "after\n")  # fd 2 is restored


def test_output_tail_keeps_only_the_last_lines(capfd):
    with OutputTail(keep_lines=2) as tail:
        os.write(1, b"a\nb\nc\n")
    assert tail.last_lines() == "b\nc"
