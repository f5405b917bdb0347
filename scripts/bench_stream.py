"""Stream throughput and idle latency: TensorFlowStreamOp against a bare streaming PyFlink map.

Throughput: a 1:1 identity script (parses batches of 512 records, writes each row's id and
value back) over a bounded stream of --rows rows, and a bare PyFlink Python map over the same
source at the same parallelism, in the same process, interleaved --repeat times; the figure
that matters is their ratio. The map's rows go to a blackhole sink; the TF op's go into a
COUNT(*), COUNT(DISTINCT id) aggregate on the JVM (its one result row checks that every row
came back, once each), so neither side pays for moving the rows to the driver. Each timed
run includes its job start, and the TF op's also includes its TF processes' start; a 1-row
run of each path, timed in every round, estimates that fixed cost, and a second ratio is given
with it subtracted from both sides.

Idle latency: a source of --latency-rate rows/s feeds a script that writes each row at once,
stamped ``written_ms``; ``NOW()`` after the TF stage stamps when Flink got the row. One line
per --flush-ms value, each in a fresh environment at parallelism 1.

    .venv/bin/python scripts/bench_stream.py [--rows 200000] [--workers 1] [--repeat 3]
        [--latency-rate 2] [--latency-rows 20] [--flush-ms 100 500] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import textwrap
import time

from pyflink.common import Row, Types
from pyflink.table import TableDescriptor

from operators import (
    RandomTableSourceStreamOp,
    TensorFlowStreamOp,
    get_stream_table_env,
    use_local_env,
)
from operators._stage_plan import BUNDLE_TIME_KEY

IDENTITY_SCRIPT = """
import tensorflow as tf

SPEC = {"id": tf.io.FixedLenFeature([], tf.int64),
        "col0": tf.io.FixedLenFeature([], tf.float32)}


def main(task_config):
    batches = task_config.dataset_fn().batch(512).map(lambda b: tf.io.parse_example(b, SPEC))
    write = task_config.output_writer.write_row
    for batch in batches:
        for i, x in zip(batch["id"].numpy().tolist(), batch["col0"].numpy().tolist()):
            write({"id": i, "x": x})
"""

# Timestamps are BIGINT milliseconds: DOUBLE columns travel as float32.
STAMP_SCRIPT = """
import time

import tensorflow as tf

SPEC = {"id": tf.io.FixedLenFeature([], tf.int64)}


def main(task_config):
    for record in task_config.dataset_fn():
        row_id = int(tf.io.parse_single_example(record, SPEC)["id"])
        task_config.output_writer.write_row({"id": row_id, "written_ms": int(time.time() * 1000)})
"""

# The flushIntervalMs default of TensorFlowStreamOp, which it also applies as the bundle time.
DEFAULT_FLUSH_MS = 100


def id_source(rows: int, rows_per_second: int | None = None) -> RandomTableSourceStreamOp:
    source = RandomTableSourceStreamOp(num_cols=1, max_rows=rows, id_col="id")
    if rows_per_second is not None:
        source.setRowsPerSecond(rows_per_second)
    return source


def stream_op(script: str, output_schema: str, workers: int, **params) -> TensorFlowStreamOp:
    return TensorFlowStreamOp(user_files=[script], main_script_file=os.path.basename(script),
                              output_schema_str=output_schema, num_workers=workers, num_ps=0,
                              rendezvous_timeout_s=120.0, **params)


def time_tf_op(rows: int, workers: int, script: str) -> float:
    output = id_source(rows).link(stream_op(script, "id long, x double", workers))
    counted = output.select("COUNT(*) AS n, COUNT(DISTINCT id) AS ids")
    start = time.perf_counter()
    out = counted.collect()
    elapsed = time.perf_counter() - start
    n, ids = out[-1][0], out[-1][1]
    if n != rows or ids != rows:
        raise SystemExit(f"TF op wrote {n} rows ({ids} distinct ids), expected {rows}")
    return elapsed


def time_bare_map(rows: int, workers: int) -> float:
    table = id_source(rows).getTable()
    t_env = table._t_env
    mapped = (t_env.to_data_stream(table)
              .map(lambda r: Row(r[0], r[1]),
                   output_type=Types.ROW_NAMED(["id", "x"], [Types.LONG(), Types.DOUBLE()]))
              .set_parallelism(workers))
    out = t_env.from_data_stream(mapped)
    start = time.perf_counter()
    out.execute_insert(TableDescriptor.for_connector("blackhole").build()).wait()
    return time.perf_counter() - start


def throughput(args: argparse.Namespace, workers: int, options: dict[str, str],
               script: str) -> dict:
    # The TF op sets the bundle time to its flush interval when it is unset; set it up front
    # so the bare map runs under the same value from its first run on.
    options = {BUNDLE_TIME_KEY: str(DEFAULT_FLUSH_MS), **options}
    use_local_env(workers, {"python_worker_mode": args.worker_mode, **options})
    # Warm-up of both paths: JVM, Python worker, planner, TF import caches.
    time_bare_map(2_000, workers)
    time_tf_op(2_000, workers, script)
    ratios, net_ratios, runs = [], [], []
    for attempt in range(args.repeat):
        t_map = time_bare_map(args.rows, workers)
        t_op = time_tf_op(args.rows, workers, script)
        f_map = time_bare_map(1, workers)
        f_op = time_tf_op(1, workers, script)
        ratios.append(t_map / t_op)
        runs.append({"op_rows_per_s": args.rows / t_op, "map_rows_per_s": args.rows / t_map,
                     "ratio": t_map / t_op, "op_fixed_s": f_op, "map_fixed_s": f_map})
        net_map, net_op = t_map - f_map, t_op - f_op
        if net_map > 0 and net_op > 0:
            net_ratios.append(net_map / net_op)
            net_text = (f"TF op {args.rows / net_op:,.0f} rows/s, "
                        f"map {args.rows / net_map:,.0f} rows/s, ratio {net_ratios[-1]:.2f}")
        else:  # too few rows for the per-row time to show above the noise of the fixed cost
            net_text = "n/a (a run was no slower than its 1-row run)"
        print(f"workers={workers} rows={args.rows} run={attempt + 1}: "
              f"TensorFlowStreamOp {args.rows / t_op:,.0f} rows/s ({t_op:.1f} s), "
              f"bare map {args.rows / t_map:,.0f} rows/s ({t_map:.1f} s), "
              f"ratio {t_map / t_op:.2f} | 1-row runs: TF op {f_op:.1f} s, map {f_map:.1f} s; "
              f"without them: {net_text}", flush=True)
    print(f"workers={workers} mode={args.worker_mode} "
          f"{BUNDLE_TIME_KEY}={options[BUNDLE_TIME_KEY]}: median ratio "
          f"{statistics.median(ratios):.2f} over {len(ratios)} runs "
          f"(TensorFlowStreamOp rows/s / bare map rows/s, fixed costs included)", flush=True)
    if net_ratios:
        print(f"workers={workers} mode={args.worker_mode}: median ratio "
              f"{statistics.median(net_ratios):.2f} over {len(net_ratios)} runs "
              f"excluding fixed cost (each side's time minus its own 1-row run time)",
              flush=True)
    return {"runs": runs, "net_ratios": net_ratios}


def latency(args: argparse.Namespace, flush_ms: int, options: dict[str, str],
            script: str) -> dict:
    # A fresh environment, so that this op's flush interval sets the bundle time.
    use_local_env(1, {"python_worker_mode": args.worker_mode, **options})
    op = stream_op(script, "id long, written_ms long", 1, flush_interval_ms=flush_ms)
    output = id_source(args.latency_rows, args.latency_rate).link(op)
    bundle_ms = get_stream_table_env().get_config().get(BUNDLE_TIME_KEY, None)
    rows = output.select("id, written_ms, NOW() AS emitted").collect()
    if sorted(r[0] for r in rows) != list(range(args.latency_rows)):
        raise SystemExit(f"latency run got ids {sorted(r[0] for r in rows)}, "
                         f"expected 0..{args.latency_rows - 1}")
    lat = sorted(r[2].timestamp() * 1000 - r[1] for r in rows)
    p95 = statistics.quantiles(lat, n=100, method="inclusive")[94] if len(lat) > 1 else lat[0]
    print(f"latency flush_ms={flush_ms} ({BUNDLE_TIME_KEY}={bundle_ms}) "
          f"rate={args.latency_rate} rows/s rows={len(lat)}: median "
          f"{statistics.median(lat):.0f} ms, p95 {p95:.0f} ms "
          f"(min {lat[0]:.0f}, max {lat[-1]:.0f})", flush=True)
    return {"flush_ms": flush_ms, "latencies_ms": lat, "median_ms": statistics.median(lat),
            "p95_ms": p95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--repeat", type=int, default=3,
                        help="interleaved runs of each; the median ratio is reported")
    parser.add_argument("--latency-rate", type=int, default=2, help="source rows per second")
    parser.add_argument("--latency-rows", type=int, default=20)
    parser.add_argument("--flush-ms", type=int, nargs="*", default=[100, 500],
                        help="flushIntervalMs values to measure latency at (none: skip)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--worker-mode", choices=["loopback", "process"], default="loopback",
                        help="PyFlink Python worker mode for every run")
    parser.add_argument("--flink-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Flink option for every run (repeatable)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    results: dict = {"rows": args.rows, "mode": args.worker_mode, "throughput": {},
                     "latency": []}
    options = dict(option.split("=", 1) for option in args.flink_option)
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {}
        for name, body in (("identity.py", IDENTITY_SCRIPT), ("stamp.py", STAMP_SCRIPT)):
            scripts[name] = os.path.join(tmp, name)
            with open(scripts[name], "w") as f:
                f.write(textwrap.dedent(body))
        if not args.skip_throughput:
            for workers in args.workers:
                results["throughput"][str(workers)] = throughput(
                    args, workers, options, scripts["identity.py"])
        for flush_ms in args.flush_ms:
            results["latency"].append(latency(args, flush_ms, options, scripts["stamp.py"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
