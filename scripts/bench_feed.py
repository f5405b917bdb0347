"""Feed throughput: TensorFlowBatchOp with a counting script against a bare PyFlink map.

Both run over the same generated rows (10 random doubles + a label), at the same parallelism,
in the same process, one after the other; the figure that matters is their ratio.

    .venv/bin/python scripts/bench_feed.py [--rows 1000000] [--workers 1 2] [--repeat 1]
        [--json PATH]
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

from operators import RandomTableSourceBatchOp, TensorFlowBatchOp, use_local_env, use_remote_env

COUNT_SCRIPT = """
def main(task_config):
    task_config.output_writer.write_row({"n": task_config.dataset_length})
"""


def labeled_source(rows: int):
    source = RandomTableSourceBatchOp(num_rows=rows, num_cols=10)
    return source.select("*, case when RAND() > 0.5 then 1. else 0. end as label")


def time_tf_op(rows: int, workers: int, script: str, data_path: str = "auto") -> float:
    op = TensorFlowBatchOp(user_files=[script], main_script_file=os.path.basename(script),
                           output_schema_str="n long", num_workers=workers, num_ps=0,
                           data_path=data_path)
    start = time.perf_counter()
    counted = sum(r[0] for r in labeled_source(rows).link(op).collect())
    elapsed = time.perf_counter() - start
    if counted != rows:
        raise SystemExit(f"TF op counted {counted} rows, expected {rows}")
    return elapsed


def time_bare_map(rows: int, workers: int) -> float:
    table = labeled_source(rows).getTable()
    t_env = table._t_env
    mapped = (t_env.to_data_stream(table)
              .map(lambda r: Row(r[0]), output_type=Types.ROW_NAMED(["x"], [Types.DOUBLE()]))
              .set_parallelism(workers))
    out = t_env.from_data_stream(mapped)
    start = time.perf_counter()
    out.execute_insert(TableDescriptor.for_connector("blackhole").build()).wait()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--repeat", type=int, default=3,
                        help="interleaved runs of each; the median ratio is reported")
    parser.add_argument("--worker-mode", choices=["loopback", "process"], default="loopback",
                        help="PyFlink Python worker mode for both sides")
    parser.add_argument("--flink-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Flink option for both sides (repeatable)")
    parser.add_argument("--remote", metavar="HOST:PORT",
                        help="run both sides on this Flink cluster (use_remote_env) instead of "
                             "the mini-cluster; --worker-mode does not apply there")
    parser.add_argument("--data-path", choices=["auto", "columnar", "rows"], default="auto",
                        help="the TF operator's dataPath")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    mode = f"cluster {args.remote}" if args.remote else args.worker_mode
    results: dict = {"rows": args.rows, "mode": mode, "workers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "count_only.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(COUNT_SCRIPT))
        for workers in args.workers:
            options = dict(option.split("=", 1) for option in args.flink_option)
            if args.remote:
                host, port = args.remote.rsplit(":", 1)
                use_remote_env(host, int(port), workers, options)
            else:
                use_local_env(workers, {"python_worker_mode": args.worker_mode, **options})
            # Warm-up of both paths: JVM, Python worker, planner and class-loading caches.
            time_bare_map(20_000, workers)
            time_tf_op(20_000, workers, script, args.data_path)
            ratios = []
            runs = results["workers"][str(workers)] = []
            for attempt in range(args.repeat):
                t_map = time_bare_map(args.rows, workers)
                t_op = time_tf_op(args.rows, workers, script, args.data_path)
                runs.append({"op_rows_per_s": args.rows / t_op,
                             "map_rows_per_s": args.rows / t_map, "ratio": t_map / t_op})
                print(f"workers={workers} rows={args.rows} run={attempt + 1}: "
                      f"TensorFlowBatchOp {args.rows / t_op:,.0f} rows/s ({t_op:.1f} s), "
                      f"bare map {args.rows / t_map:,.0f} rows/s ({t_map:.1f} s), "
                      f"ratio {t_map / t_op:.2f}", flush=True)
                ratios.append(t_map / t_op)
            print(f"workers={workers} mode={mode}: median ratio "
                  f"{statistics.median(ratios):.2f} over {len(ratios)} runs "
                  f"(TensorFlowBatchOp rows/s / bare map rows/s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
