"""Rows/s of ExampleEncoder.encode against building a tf.train.Example per row.

Usage: python scripts/bench_codec.py [--rows 200000] [--baseline-rows 20000] [--cols 11]
"""

import argparse
import random
import time

from bridge.codec import ExampleEncoder
from bridge.schema import parse_schema


def best_rate(fn, rows, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(rows)
        best = min(best, time.perf_counter() - start)
    return len(rows) / best


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--cols", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    names = [f"f{i}" for i in range(args.cols)]
    schema = parse_schema(", ".join(f"{n} double" for n in names))
    rng = random.Random(0)
    rows = [[rng.random() for _ in names] for _ in range(args.rows)]

    encoder = ExampleEncoder(schema)

    def ours(batch):
        encode = encoder.encode
        for row in batch:
            encode(row)

    import tensorflow as tf

    def idiomatic(batch):
        for row in batch:
            tf.train.Example(
                features=tf.train.Features(
                    feature={
                        n: tf.train.Feature(float_list=tf.train.FloatList(value=[v]))
                        for n, v in zip(names, row)
                    }
                )
            ).SerializeToString()

    check = rows[0]
    assert tf.train.Example.FromString(encoder.encode(check)) == tf.train.Example(
        features=tf.train.Features(
            feature={
                n: tf.train.Feature(float_list=tf.train.FloatList(value=[v]))
                for n, v in zip(names, check)
            }
        )
    )

    ours_rate = best_rate(ours, rows, args.repeats)
    base_rate = best_rate(idiomatic, rows[: args.baseline_rows], args.repeats)
    print(f"rows of {args.cols} Python floats, best of {args.repeats} runs")
    print(f"ExampleEncoder.encode    {ours_rate:>12,.0f} rows/s  ({args.rows:,} rows)")
    print(f"tf.train.Example per row {base_rate:>12,.0f} rows/s  ({args.baseline_rows:,} rows)")
    print(f"speed-up                 {ours_rate / base_rate:>12.1f}x")


if __name__ == "__main__":
    main()
