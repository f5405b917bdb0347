"""Metrics from main: task_config.log_metric reaches getMetrics(), plotMetrics() and MLflow."""

from __future__ import annotations

import pytest
from py4j.protocol import Py4JJavaError

from bridge.errors import AkdlError
from operators import RandomTableSourceBatchOp, TensorFlowBatchOp

pytestmark = pytest.mark.e2e

ROWS = 300

LOGGING_SCRIPT = """
    def main(task_config):
        count = task_config.dataset_length
        for epoch in range(3):
            offset = 1 if task_config.task_type == "worker" else 0
            task_config.log_metric("loss", 1.0 / (epoch + 1) + offset)
        task_config.log_metrics({"rows_seen": count, "ratio": 0.5}, step=7)
        task_config.output_writer.write_row({"n": count})
"""


def _two_worker_op(script: str) -> TensorFlowBatchOp:
    return TensorFlowBatchOp(
        main_script_file=script, output_schema_str="n long", num_workers=2,
    )


def _source():
    return RandomTableSourceBatchOp(num_cols=1, num_rows=ROWS, id_col="id")


def test_metrics_of_a_two_worker_script_reach_get_metrics_and_the_plot(
        local_env, write_script, tmp_path):
    op = _two_worker_op(write_script("log.py", LOGGING_SCRIPT))
    rows = _source().link(op).collect()
    assert sum(r[0] for r in rows) == ROWS

    metrics = op.getMetrics()
    assert list(metrics.columns) == ["task", "name", "step", "value", "time"]
    assert sorted(metrics["task"].unique()) == ["chief:0", "worker:0"]
    loss = metrics[metrics["name"] == "loss"]
    for index, task in enumerate(["chief:0", "worker:0"]):
        values = loss[loss["task"] == task]
        assert list(values["step"]) == [0, 1, 2]
        assert list(values["value"]) == pytest.approx([1.0 + index, 0.5 + index, 1 / 3 + index])
    seen = metrics[metrics["name"] == "rows_seen"]
    assert set(seen["step"]) == {7}
    assert seen["value"].sum() == ROWS
    # Built-in metrics: the shards add up to the input, each task wrote one row.
    rows_in = metrics[metrics["name"] == "rows_in"]
    assert rows_in["value"].sum() == ROWS
    assert list(metrics[metrics["name"] == "rows_out"]["value"]) == [1, 1]
    for name in ("seconds_to_main", "seconds_in_main"):
        values = metrics[metrics["name"] == name]["value"]
        assert len(values) == 2 and (values >= 0).all()

    path = op.plotMetrics(tmp_path / "metrics.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_get_metrics_before_the_job_ran_says_so(local_env, write_script):
    op = _two_worker_op(write_script("log.py", LOGGING_SCRIPT))
    with pytest.raises(AkdlError, match="has no metrics: link it"):
        op.getMetrics()
    _source().link(op)
    with pytest.raises(AkdlError, match="has not run yet"):
        op.getMetrics()


def test_a_bad_metric_value_fails_main_naming_the_metric(local_env, write_script):
    script = write_script("bad.py", """
        def main(task_config):
            task_config.log_metric("loss", "high")
    """)
    with pytest.raises(Py4JJavaError) as failure:
        _source().link(TensorFlowBatchOp(main_script_file=script, output_schema_str="n long",
                                         num_workers=1)).collect()
    assert "metric 'loss': the value must be a real number, not str ('high')" in str(
        failure.value)


def test_metrics_and_params_go_to_the_active_mlflow_run(local_env, write_script, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        op = _two_worker_op(write_script("log.py", LOGGING_SCRIPT))
        with mlflow.start_run() as run:
            _source().link(op).collect()
        client = mlflow.tracking.MlflowClient()
        history = client.get_metric_history(run.info.run_id, "TensorFlowBatchOp/worker_0/loss")
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
            (0, pytest.approx(2.0)), (1, pytest.approx(1.5)), (2, pytest.approx(4 / 3))]
        data = client.get_run(run.info.run_id).data
        assert data.metrics["TensorFlowBatchOp/chief_0/rows_seen"] + data.metrics[
            "TensorFlowBatchOp/worker_0/rows_seen"] == ROWS
        assert data.params["TensorFlowBatchOp.numWorkers"] == "2"
        assert data.params["TensorFlowBatchOp.outputSchemaStr"] == "n long"
    finally:
        mlflow.set_tracking_uri(previous)
