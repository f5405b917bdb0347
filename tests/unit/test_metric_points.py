"""Metric points, the driver's log, step numbering and the Flink gauges (pure logic)."""

from __future__ import annotations

import numpy as np
import pytest

from akdl.runner.metrics import MetricLogger
from bridge.metrics import (
    LatestMetrics,
    MetricLog,
    gauge_name,
    gauge_value,
    metric_point,
)
from operators._metric_gauges import SubtaskGauges


def test_a_point_keeps_name_value_step_and_whether_it_is_an_integer():
    point = metric_point("loss", np.float32(0.25), 3, now=10.0)
    assert (point.name, point.value, point.step, point.time, point.integral) == (
        "loss", 0.25, 3, 10.0, False)
    assert metric_point("rows", np.int64(7), 0).integral
    assert metric_point("rows", 7, 0).integral


@pytest.mark.parametrize("name, value, step, error, text", [
    ("loss", "high", 0, TypeError, "metric 'loss': the value must be a real number, not str"),
    ("loss", True, 0, TypeError, "not bool"),
    ("loss", float("nan"), 0, ValueError, "must be finite"),
    ("loss", 1.0, -1, ValueError, "step must be an integer >= 0"),
    ("bad:name", 1.0, 0, ValueError, "metric name 'bad:name' is not allowed"),
    ("", 1.0, 0, ValueError, "is not allowed"),
])
def test_bad_points_are_refused_clearly(name, value, step, error, text):
    with pytest.raises(error, match=text):
        metric_point(name, value, step)


def test_gauges_carry_integers_as_they_are_and_other_values_in_millionths():
    assert (gauge_name(metric_point("rows_in", 12, 0)),
            gauge_value(metric_point("rows_in", 12, 0))) == ("rows_in", 12)
    point = metric_point("val/loss", 0.1234567, 0)
    assert (gauge_name(point), gauge_value(point)) == ("val_loss_x1e6", 123457)


def test_the_log_keeps_the_latest_round_and_drops_the_oldest_past_its_size():
    log = MetricLog(max_records=3)
    log.add("chief:0", 1, [metric_point("a", 1, 0)])
    log.add("chief:0", 2, [metric_point("a", 2, 0), metric_point("a", 3, 1)])
    assert [(r.round, r.value) for r in log.records()] == [(2, 2.0), (2, 3.0)]
    log.add("chief:0", 2, [metric_point("a", 4, 2), metric_point("a", 5, 3)])
    assert [r.value for r in log.records()] == [3.0, 4.0, 5.0]
    assert log.dropped == 2


def test_values_without_a_step_are_numbered_after_the_last_one():
    sent = []
    logger = MetricLogger("chief:0", send=sent.extend)
    logger.log_metric("loss", 1.0)
    logger.log_metric("loss", 0.5)
    logger.log_metrics({"loss": 0.4, "acc": 0.9}, step=10)
    logger.log_metric("loss", 0.3)
    logger.close()
    assert [(p.name, p.step) for p in sent] == [
        ("loss", 0), ("loss", 1), ("loss", 10), ("acc", 10), ("loss", 11)]


class _Group:
    def __init__(self):
        self.groups = {}
        self.gauges = {}

    def add_group(self, name):
        return self.groups.setdefault(name, _Group())

    def gauge(self, name, read):
        self.gauges[name] = read


def test_subtask_gauges_register_new_metrics_and_read_the_latest_value():
    group = _Group()
    gauges = SubtaskGauges(group)
    latest = LatestMetrics()
    latest.update([metric_point("loss", 0.5, 0)])
    gauges.sync(latest)
    akdl = group.groups["akdl"]
    assert akdl.gauges["loss_x1e6"]() == 500_000
    latest.update([metric_point("loss", 0.25, 1), metric_point("rows_in", 9, 0)])
    gauges.sync(latest)
    assert akdl.gauges["loss_x1e6"]() == 250_000
    assert akdl.gauges["rows_in"]() == 9
