"""Runs a slow stream script over 120 MB of rows and prints this process's memory growth.

Run as its own process by ``test_stream_op``: in loopback mode the Flink side's Python runs as
threads of the driver, so a fresh driver measures that side alone, without the allocator
history of the test session's earlier jobs (which moved the figure by 50 MB and more).

Usage: ``python stream_memory_probe.py SCRIPT ROWS``; prints one JSON line with ``count`` and
``growth_mb``.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import psutil

from operators import RandomTableSourceStreamOp, TensorFlowStreamOp, use_local_env

ROW_PAYLOAD_BYTES = 4096


class PeakRss:
    """Samples this process's resident memory every 50 ms until stopped."""

    def __init__(self):
        self._process = psutil.Process()
        self.start = self._process.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def stop(self) -> int:
        """Stops sampling; returns the peak growth in bytes."""
        self._stop.set()
        self._thread.join()
        return self.peak - self.start


def slow_payload_job(script: str, rows: int):
    """4 KB rows, fed far faster than the script reads them, into one TF worker."""
    source = RandomTableSourceStreamOp(num_cols=1, max_rows=rows, id_col="id") \
        .select(f"id, REPEAT('x', {ROW_PAYLOAD_BYTES}) AS payload")
    return source.link(TensorFlowStreamOp(
        user_files=[script], main_script_file=os.path.basename(script),
        output_schema_str="count long", num_workers=1, rendezvous_timeout_s=120.0))


def main(script: str, rows: int) -> None:
    """Pays the one-off start-up cost with a small run, then measures the large one."""
    use_local_env(2)
    warm = [r[0] for r in slow_payload_job(script, 1_000).collect()]
    assert warm == [1_000], warm
    output = slow_payload_job(script, rows)
    rss = PeakRss()
    counts = [r[0] for r in output.collect()]
    growth_mb = rss.stop() / 2**20
    print(json.dumps({"count": counts, "growth_mb": growth_mb}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
