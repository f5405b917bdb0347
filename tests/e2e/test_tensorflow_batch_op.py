"""TensorFlowBatchOp end to end: real mini-cluster, real TF processes, real gRPC."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal

import numpy as np
import pytest
from py4j.protocol import Py4JJavaError
from session_processes import driver_environ

from bridge.errors import ParamError
from operators import MemSourceBatchOp, RandomTableSourceBatchOp, TensorFlowBatchOp

pytestmark = pytest.mark.e2e



def tf_op(script: str, output_schema: str, **params) -> TensorFlowBatchOp:
    return TensorFlowBatchOp(
        user_files=[script],
        main_script_file=os.path.basename(script),
        output_schema_str=output_schema,
        num_workers=1,
        num_ps=0,
        **params,
    )


ECHO_SCRIPT = """
    import tensorflow as tf

    def main(task_config):
        for record in tf.data.TFRecordDataset(task_config.dataset_file):
            task_config.output_writer.write(tf.train.Example.FromString(record.numpy()))
"""

ALL_TYPES = (
    "i8 TINYINT, i16 SMALLINT, i32 INT, i64 BIGINT, flag BOOLEAN, f FLOAT, d DOUBLE, "
    "dec DECIMAL(10, 2), s STRING, b BYTES, day DATE, ts TIMESTAMP(3), "
    "ad ARRAY<DOUBLE>, al ARRAY<BIGINT>, astr ARRAY<STRING>"
)
ALL_TYPES_ROWS = [
    (
        1,
        -2,
        2**31 - 1,
        -(2**63),
        True,
        0.1,
        0.1,
        Decimal("12.25"),
        "héllo ✓",
        b"\x00\xff",
        dt.date(1969, 12, 31),
        dt.datetime(2024, 2, 29, 12, 30, 45, 123000),
        [1.5, -0.1],
        [2**40, -1],
        ["a", "", "ü"],
    ),
    (
        0,
        0,
        0,
        2**63 - 1,
        False,
        -3.25,
        1e300,
        Decimal("-0.50"),
        "",
        b"",
        dt.date(2000, 1, 1),
        dt.datetime(1960, 1, 1, 0, 0, 0),
        [],
        [],
        [],
    ),
    (None, None, None, None, None, None, None, None, None, None, None, None, None, None, None),
]


def test_every_input_type_round_trips_exactly(local_env, write_script):
    script = write_script("echo.py", ECHO_SCRIPT)
    rows = MemSourceBatchOp(ALL_TYPES_ROWS, ALL_TYPES).link(tf_op(script, ALL_TYPES)).collect()
    assert len(rows) == 3
    by_i64 = {row[3]: row for row in rows}
    first, second, nulls = by_i64[-(2**63)], by_i64[2**63 - 1], by_i64[None]
    assert list(first[:5]) == [1, -2, 2**31 - 1, -(2**63), True]
    # FLOAT/DOUBLE travel as float32 (API.md §4): a double 0.1 comes back as float32(0.1).
    assert first[5] == pytest.approx(float(np.float32(0.1)), abs=0)
    assert first[6] == float(np.float32(0.1))
    assert first[7] == Decimal("12.25")
    assert first[8] == "héllo ✓" and bytes(first[9]) == b"\x00\xff"
    assert first[10] == dt.date(1969, 12, 31)
    assert first[11] == dt.datetime(2024, 2, 29, 12, 30, 45, 123000)
    assert list(first[12]) == [1.5, float(np.float32(-0.1))]
    assert list(first[13]) == [2**40, -1] and list(first[14]) == ["a", "", "ü"]
    assert second[4] is False and second[5] == -3.25 and second[6] == float("inf")
    assert second[7] == Decimal("-0.50") and second[8] == "" and bytes(second[9]) == b""
    assert second[11] == dt.datetime(1960, 1, 1)
    assert [list(v) for v in second[12:]] == [[], [], []]
    assert all(v is None for v in nulls)


COUNT_SCRIPT = """
    import tensorflow as tf

    def main(task_config):
        spec = {"id": tf.io.FixedLenFeature([], tf.int64)}
        total, seen = 0, 0
        for batch in tf.data.TFRecordDataset(task_config.dataset_file).batch(4096):
            ids = tf.io.parse_example(batch, spec)["id"]
            total += int(tf.reduce_sum(ids))
            seen += int(tf.size(ids))
        task_config.output_writer.write_row(
            {"length": task_config.dataset_length, "seen": seen, "id_sum": total})
"""


def test_exact_row_count_at_100k_rows(local_env, write_script):
    n = 100_000
    script = write_script("count.py", COUNT_SCRIPT)
    source = RandomTableSourceBatchOp(num_rows=n, num_cols=3, id_col="id")
    rows = source.link(tf_op(script, "length long, seen long, id_sum long")).collect()
    assert [tuple(r) for r in rows] == [(n, n, n * (n - 1) // 2)]


def test_zero_input_rows(local_env, write_script):
    script = write_script("count.py", COUNT_SCRIPT)
    source = RandomTableSourceBatchOp(num_rows=10, num_cols=2, id_col="id").filter("id < 0")
    rows = source.link(tf_op(script, "length long, seen long, id_sum long")).collect()
    assert [tuple(r) for r in rows] == [(0, 0, 0)]


PARAMS_SCRIPT = """
    import json, os
    import helper_module

    def main(task_config):
        p = task_config.user_params
        task_config.output_writer.write_row({
            "types": json.dumps({k: type(v).__name__ for k, v in sorted(p.items())}),
            "values": json.dumps(p, sort_keys=True),
            "schema": task_config.tf_context.properties["input_schema"],
            "helper": helper_module.shout("ok"),
            "tf_config": os.environ["TF_CONFIG"],
            "where": f"{task_config.task_type}:{task_config.task_index}/{task_config.num_workers}",
        })
"""


def test_user_params_types_selected_cols_and_second_user_file(local_env, write_script):
    script = write_script("params_main.py", PARAMS_SCRIPT)
    helper = write_script("helper_module.py", "def shout(s):\n    return s.upper()\n")
    params = {"i": 1, "f": 1.5, "s": "x", "b": True, "l": [1, "a"], "d": {"k": None}, "n": None}
    op = TensorFlowBatchOp(
        user_files=[script, helper],
        main_script_file="params_main.py",
        output_schema_str="types string, values string, schema string, helper string, "
        "tf_config string, where string",
        user_params=json.dumps(params),
        selected_cols=["b", "c"],
    ).setNumWorkers(1)
    source = MemSourceBatchOp([(1, "x", 2.0)], "a long, b string, c double")
    (row,) = source.link(op).collect()
    assert json.loads(row[0]) == {
        "b": "bool",
        "d": "dict",
        "f": "float",
        "i": "int",
        "l": "list",
        "n": "NoneType",
        "s": "str",
    }
    assert json.loads(row[1]) == params
    assert row[2] == "b STRING, c DOUBLE"
    assert row[3] == "OK"
    tf_config = json.loads(row[4])
    assert tf_config["task"] == {"type": "chief", "index": 0}
    assert list(tf_config["cluster"]) == ["chief"]
    assert row[5] == "chief:0/1"


def test_bad_output_schema_fails_before_the_job_starts(local_env, write_script):
    script = write_script("echo.py", ECHO_SCRIPT)
    source = MemSourceBatchOp([(1,)], "a long")
    with pytest.raises(ParamError) as info:
        source.link(tf_op(script, "model_id long, model_info strng"))
    assert "outputSchemaStr" in str(info.value) and "'strng'" in str(info.value)


def test_ps_count_that_leaves_no_worker_is_rejected(local_env, write_script):
    script = write_script("echo.py", ECHO_SCRIPT)
    op = TensorFlowBatchOp(user_files=[script], main_script_file="echo.py",
                           output_schema_str="a long", num_ps=local_env)
    with pytest.raises(ParamError, match="leaves no worker"):
        MemSourceBatchOp([(1,)], "a long").link(op)


def _job_error(op_source, op) -> str:
    with pytest.raises(Py4JJavaError) as info:
        op_source.link(op).collect()
    return str(info.value)


def test_script_without_main_fails_naming_main(local_env, write_script):
    script = write_script("no_main.py", "def train(task_config):\n    pass\n")
    message = _job_error(MemSourceBatchOp([(1,)], "a long"), tf_op(script, "a long"))
    assert "does not define a function 'main(task_config)'" in message
    assert "TensorFlowBatchOp" in message and "chief:0" in message


def test_exception_in_main_fails_the_job_with_the_users_traceback(local_env, write_script):
    script = write_script("raises.py",
        """
        def helper(n):
            raise ValueError(f"bad value {n} from the user script")

        def main(task_config):
            helper(task_config.dataset_length)
    """,
    )
    message = _job_error(MemSourceBatchOp([(1,), (2,)], "a long"), tf_op(script, "a long"))
    assert "ValueError: bad value 2 from the user script" in message
    assert 'raise ValueError(f"bad value {n} from the user script")' in message
    assert "raises.py" in message and "chief:0" in message


def test_output_that_does_not_fit_the_schema_names_the_column(local_env, write_script):
    script = write_script("wrong_type.py",
        """
        import tensorflow as tf

        def main(task_config):
            example = tf.train.Example()
            example.features.feature["score"].int64_list.value.append(3)
            task_config.output_writer.write(example)
    """,
    )
    message = _job_error(MemSourceBatchOp([(1,)], "a long"), tf_op(script, "score double"))
    assert "column 'score' declared DOUBLE" in message and "int64_list" in message


def test_seed_example_runs_as_written_and_its_model_loads_in_plain_tf(tmp_path, repo_root):
    env = driver_environ()
    result = subprocess.run(
        [sys.executable, os.path.join(repo_root, "examples", "seed_example.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model_id" in result.stdout and "rows in set" in result.stdout


def test_seed_model_rows_become_a_saved_model_that_predicts(local_env, tmp_path, repo_root):
    from akdl import model_rows_to_saved_model

    source = RandomTableSourceBatchOp().setNumRows(100).setNumCols(10)
    params = {
        "featureCols": json.dumps(source.getColNames()),
        "labelCol": "label",
        "batch_size": 16,
        "num_epochs": 1,
    }
    script = os.path.join(repo_root, "examples", "tf_dnn_batch.py")
    op = (
        TensorFlowBatchOp()
        .setUserFiles([script])
        .setMainScriptFile(script)
        .setUserParams(json.dumps(params))
        .setOutputSchemaStr("model_id long, model_info string")
        .setNumWorkers(1)
        .setNumPSs(0)
    )
    rows = (
        source.select("*, case when RAND() > 0.5 then 1. else 0. end as label").link(op).collect()
    )
    assert sorted(r[0] for r in rows) == list(range(len(rows))) and len(rows) >= 2
    assert [r[1] for r in rows if r[0] == 0] == ["dnn_model.zip"]
    model_dir = model_rows_to_saved_model(rows, str(tmp_path / "model"))
    code = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        model = tf.saved_model.load({model_dir!r})
        serve = model.signatures["serving_default"]
        x = {{f"col{{i}}": tf.constant(np.random.rand(5).astype("float32")) for i in range(10)}}
        out = serve(**x)
        p = out["probability"].numpy()
        assert p.shape == (5,) and ((p >= 0) & (p <= 1)).all(), p
        print("OK", sorted(out))
    """)
    check = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert "OK ['prediction', 'probability']" in check.stdout
