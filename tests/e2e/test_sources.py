"""Sources and the BatchOperator table API on a real local mini-cluster (parallelism 2)."""

import datetime
import decimal
from collections import Counter

import pytest
from pyflink.common import Row, Types
from pyflink.datastream import MapFunction, RuntimeContext

from bridge.errors import ParamError, SchemaMismatchError
from operators import (
    BatchOperator,
    CsvSourceBatchOp,
    LinkError,
    MemSourceBatchOp,
    MemSourceStreamOp,
    RandomTableSourceBatchOp,
    RandomTableSourceStreamOp,
    StreamOperator,
    TableSourceBatchOp,
    get_batch_table_env,
    get_parallelism,
)

pytestmark = pytest.mark.e2e


class _SubtaskOf(MapFunction):
    def open(self, runtime_context: RuntimeContext):
        self.index = runtime_context.get_index_of_this_subtask()

    def map(self, value):
        return Row(self.index, value[0])


def test_random_source_rows_ids_names_and_parallelism(local_env):
    op = RandomTableSourceBatchOp(
        num_rows=1000, num_cols=3, id_col="id", output_cols=["a", "b", "c"]
    )
    assert op.getColNames() == ["id", "a", "b", "c"]
    assert op.getColTypes() == ["BIGINT", "DOUBLE", "DOUBLE", "DOUBLE"]
    # Tag each row with the source subtask that produced it (the map is chained to the source).
    t_env = get_batch_table_env()
    tagged = t_env.to_data_stream(op.getTable()).map(
        _SubtaskOf(), output_type=Types.ROW_NAMED(["subtask", "id"], [Types.INT(), Types.LONG()])
    )
    rows = BatchOperator.fromTable(t_env.from_data_stream(tagged)).collect()
    assert sorted(r[1] for r in rows) == list(range(1000))
    per_subtask = Counter(r[0] for r in rows)
    assert get_parallelism() == 2
    assert per_subtask == {0: 500, 1: 500}


def test_random_source_values_default_names_and_seed_select(local_env):
    source = RandomTableSourceBatchOp().setNumRows(100).setNumCols(10)
    assert source.getColNames() == [f"col{i}" for i in range(10)]
    labeled = source.select("*, case when RAND() > 0.5 then 1. else 0. end as label")
    assert isinstance(labeled, BatchOperator)
    assert labeled.getColNames()[-1] == "label"
    # Flink types the literal-only CASE as INT NOT NULL (not DOUBLE, as Alink's planner did).
    assert labeled.getColTypes()[-1] == "INT NOT NULL"
    rows = labeled.collect()
    assert len(rows) == 100
    assert all(0.0 <= v < 1.0 for r in rows for v in r[:10])
    assert {r[10] for r in rows} <= {0, 1}


def test_random_source_params_are_checked():
    with pytest.raises(ParamError, match="numRows"):
        RandomTableSourceBatchOp(num_cols=2).getTable()
    with pytest.raises(ParamError, match="numCols"):
        RandomTableSourceBatchOp(num_rows=2).getColNames()
    with pytest.raises(ParamError, match="outputCols"):
        RandomTableSourceBatchOp(num_rows=2, num_cols=3, output_cols='["a", "b"]').getTable()
    with pytest.raises(ParamError, match="numRows"):
        RandomTableSourceBatchOp().setNumRows(-1)


def test_source_rebuilds_after_a_param_change(local_env):
    op = RandomTableSourceBatchOp(num_rows=5, num_cols=2)
    assert op.getColNames() == ["col0", "col1"]
    op.setNumCols(3)
    assert op.getColNames() == ["col0", "col1", "col2"]


MEM_SCHEMA = (
    "id long, name string, score double, ok boolean, price DECIMAL(8, 2), day date, "
    "raw bytes, vec ARRAY<DOUBLE>"
)
MEM_ROWS = [
    (1, "a", 0.5, True, decimal.Decimal("1.25"), datetime.date(2024, 5, 6), b"\x01", [1.0, 2.0]),
    (2, None, 3, False, 7, "2024-05-07", None, None),  # int for DOUBLE/DECIMAL, ISO date
    (3, "c", None, None, None, None, bytearray(b"\x02"), []),
]


def test_mem_source_values_types_nulls_filter_and_dataframe(local_env):
    op = MemSourceBatchOp(MEM_ROWS, MEM_SCHEMA)
    assert op.getSchemaStr() == (
        "id BIGINT, name STRING, score DOUBLE, ok BOOLEAN, price DECIMAL(8, 2), day DATE, "
        "raw BYTES, vec ARRAY<DOUBLE>"
    )
    rows = op.collect()
    assert [tuple(r) for r in rows] == [
        MEM_ROWS[0],
        (2, None, 3.0, False, decimal.Decimal("7.00"), datetime.date(2024, 5, 7), None, None),
        (3, "c", None, None, None, None, b"\x02", []),
    ]
    df = op.filter("id >= 2 AND name IS NULL").collectToDataframe()
    assert list(df.columns) == op.getColNames()
    assert df["id"].tolist() == [2]


def test_mem_source_print(local_env, capsys):
    MemSourceBatchOp([(1, "a"), (2, None)], "id long, s string").print()
    out = capsys.readouterr().out
    assert "| id |      s |" in out
    assert "|  2 | <NULL> |" in out
    assert "2 rows in set" in out


def test_mem_source_rejects_bad_rows_before_running():
    with pytest.raises(SchemaMismatchError, match="'score' declared DOUBLE, got str"):
        MemSourceBatchOp([(1, "x", "high")], "id long, name string, score double").getTable()
    with pytest.raises(ParamError, match="row 0 has 2 values"):
        MemSourceBatchOp([(1, 2)], "a long").getTable()
    with pytest.raises(ParamError, match="schemaStr"):
        MemSourceBatchOp([(1,)], "a lon")
    with pytest.raises(LinkError, match="is a source"):
        MemSourceBatchOp([(1,)], "a long").linkFrom(MemSourceBatchOp([(1,)], "a long"))


def test_csv_source(local_env, tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(
        'id,name,score,day\n1,plain,0.5,2024-01-02\n2,"with, comma",,2024-01-03\n3,,1.5,\n'
    )
    op = CsvSourceBatchOp(
        file_path=str(path), schema_str="id long, name string, score double, day date"
    ).setIgnoreFirstLine(True)
    assert op.getSchemaStr() == "id BIGINT, name STRING, score DOUBLE, day DATE"
    rows = sorted(op.collect(), key=lambda r: r[0])
    assert [tuple(r) for r in rows] == [
        (1, "plain", 0.5, datetime.date(2024, 1, 2)),
        (2, "with, comma", None, datetime.date(2024, 1, 3)),
        (3, None, 1.5, None),
    ]
    with pytest.raises(ParamError, match="does not exist"):
        CsvSourceBatchOp(file_path=str(tmp_path / "nope.csv"), schema_str="a long").getTable()
    with pytest.raises(ParamError, match="single character"):
        CsvSourceBatchOp(field_delimiter="::")


def test_table_interop_and_link_errors(local_env):
    source = MemSourceBatchOp([(1, "a")], "id long, s string")
    table = source.getTable()
    wrapped = BatchOperator.fromTable(table)
    assert wrapped.getTable() is table
    assert TableSourceBatchOp(table).getColNames() == ["id", "s"]
    assert "id BIGINT, s STRING" in repr(wrapped)
    with pytest.raises(LinkError, match="no output yet"):
        BatchOperator().getColNames()
    with pytest.raises(NotImplementedError, match="BatchOperator"):
        source.link(BatchOperator())
    with pytest.raises(LinkError, match="nothing to execute"):
        BatchOperator.execute()


def test_stream_sources_collect_and_print_execute(local_env):
    stream = RandomTableSourceStreamOp(max_rows=50, num_cols=2, id_col="id")
    rows = stream.collect()
    assert sorted(r[0] for r in rows) == list(range(50))
    mem = MemSourceStreamOp([(1, "a"), (2, "b")], "id long, s string")
    assert isinstance(mem.select("id"), StreamOperator)
    mem.print()  # registered only; rows go to the TaskManager's stdout
    StreamOperator.execute()
    with pytest.raises(LinkError, match="nothing to execute"):
        StreamOperator.execute()


def test_batch_execute_on_an_instance_runs_its_output(local_env, tmp_path):
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    marks = tmp_path / "marks.txt"

    @udf(result_type=DataTypes.DOUBLE())
    def mark(x):
        with open(marks, "a") as f:  # loopback mode: the UDF runs in this process
            f.write(f"{x}\n")
        return x

    get_batch_table_env().create_temporary_function("akdl_test_mark", mark)
    RandomTableSourceBatchOp(num_rows=10, num_cols=1).select(
        "akdl_test_mark(col0) AS m"
    ).execute()
    values = [float(line) for line in marks.read_text().splitlines()]
    assert len(values) == 10 and all(0 <= v < 1 for v in values)


def test_env_config_and_handed_in_table_env(local_env):
    from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    from operators import (
        get_batch_env,
        get_stream_table_env,
        is_print_process_info,
        use_local_env,
        use_table_env,
    )

    try:
        use_local_env(3, config={"debug_mode": True, "python.fn-execution.bundle.time": 100})
        assert is_print_process_info()
        assert get_parallelism() == 3
        assert get_batch_env().get_parallelism() == 3
        config = get_batch_table_env().get_config()
        assert config.get("python.fn-execution.bundle.time", "") == "100"
        assert (
            get_stream_table_env().get_config().get("python.fn-execution.bundle.time", "") == "100"
        )
        with pytest.raises(ParamError, match="parallelism"):
            use_local_env(0)

        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
        env.set_parallelism(1)
        t_env = StreamTableEnvironment.create(env, EnvironmentSettings.in_batch_mode())
        use_table_env(t_env)
        assert get_batch_table_env() is t_env
        assert get_parallelism() == 1
        assert is_print_process_info()  # kept from the earlier settings
        op = MemSourceBatchOp([(1,)], "a long")
        assert op.getTable()._t_env is t_env
    finally:
        use_local_env(local_env)
    assert not is_print_process_info()
    assert get_parallelism() == 2
