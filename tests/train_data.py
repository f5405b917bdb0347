"""The linearly separable data the train-then-predict tests share, and how they predict it."""

from __future__ import annotations

import random

__all__ = ["DATA_SCHEMA", "PREDICT_PARAMS", "separable_rows"]

DATA_SCHEMA = "id long, f0 double, f1 double, label int"
PREDICT_PARAMS = dict(
    selected_cols=["f0", "f1"], reserved_cols=["id", "label"],
    output_schema_str="probability double, prediction long",
)


def separable_rows(n: int, seed: int) -> list[tuple]:
    """``n`` rows ``(id, f0, f1, label)`` with ``label = f0 + f1 > 0``, f0 and f1 in [-1, 1)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.uniform(-1, 1), rng.uniform(-1, 1)
        rows.append((i, a, b, int(a + b > 0)))
    return rows
