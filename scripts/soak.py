"""Soak: many rows through an identity script; nothing may be lost, duplicated or altered.

A deterministic source (Flink's datagen sequence ``id = 0..N-1`` and ``x = id / 7``) goes
through a ``TensorFlowBatchOp`` whose script writes every input record back unchanged. The
output is fetched as Arrow columns and checked exactly: the row count, the sum of the ids (no
id lost or repeated, by the count and the sum together with the distinct count) and a
bit-exact checksum of the doubles (``x`` after the float32 rounding that a
``tf.train.Example`` float feature applies, as documented in docs/types.md).

    .venv/bin/python scripts/soak.py [--rows 10000000] [--workers 2] [--data-path auto]

Exit status 0 when every check holds. The test suite runs it with 1M rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import time
from typing import Any

import numpy as np

IDENTITY_SCRIPT = """
import tensorflow as tf

def main(task_config):
    writer = task_config.output_writer
    for batch in tf.data.TFRecordDataset(task_config.dataset_file).batch(8192):
        for record in batch.numpy():
            writer.write(record)
"""


def expected_checksums(rows: int) -> dict[str, Any]:
    """The checksums of a clean run, computed in numpy from the same definition."""
    ids = np.arange(rows, dtype=np.int64)
    x = (ids.astype(np.float64) / 7).astype(np.float32).astype(np.float64)
    return _checksums(ids, x)


def _checksums(ids: np.ndarray, x: np.ndarray) -> dict[str, Any]:
    return {
        "rows": int(len(ids)),
        "distinct_ids": int(len(np.unique(ids))),
        "id_sum": int(ids.sum(dtype=np.int64)),
        # Order-independent and bit-exact: the 64-bit patterns of the doubles, summed mod 2**64.
        "x_bits_sum": int(x.view(np.uint64).sum(dtype=np.uint64)),
    }


def run(rows: int, workers: int, data_path: str = "auto") -> dict[str, Any]:
    """Run the soak job; returns the measured and expected checksums and the time taken."""
    from operators import RandomTableSourceBatchOp, TensorFlowBatchOp
    from operators._collect import collect_arrow

    # Flink's datagen with an id sequence, unthrottled; the random column is dropped.
    source = RandomTableSourceBatchOp(num_rows=rows, num_cols=1, id_col="id")
    table = source.select("id, CAST(id AS DOUBLE) / 7 AS x")
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "identity.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent(IDENTITY_SCRIPT))
        op = TensorFlowBatchOp(
            user_files=[script], main_script_file="identity.py",
            output_schema_str="id long, x double", num_workers=workers, data_path=data_path,
        )
        started = time.perf_counter()
        linked = table.link(op)
        result = linked._run_job(collect_arrow)  # as collect(), but Arrow columns, no Rows
        elapsed = time.perf_counter() - started
    ids = result.column("id").to_numpy()
    x = result.column("x").to_numpy()
    return {"measured": _checksums(ids, x), "expected": expected_checksums(rows),
            "seconds": elapsed, "rows_per_s": rows / elapsed}


def main() -> int:
    """Command-line entry; prints the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-path", default="auto", choices=["auto", "columnar", "rows"])
    args = parser.parse_args()
    from operators import use_local_env

    use_local_env(args.workers)
    report = run(args.rows, args.workers, args.data_path)
    print(json.dumps(report, indent=2))
    if report["measured"] != report["expected"]:
        print("SOAK FAILED: the output differs from a clean run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
