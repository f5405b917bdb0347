"""The benchmark suite: feed, stream, predict, memory and start-up, with plots.

Runs, one after another (never two at once, the machine has two cores):

- P1 ``bench_feed.py``: TensorFlowBatchOp with a counting script against a bare PyFlink map,
  at 1 and 2 workers, in the default (loopback) worker mode and in process mode;
- P3 ``bench_stream.py``: TensorFlowStreamOp identity against a bare streaming map, and idle
  latency at the default flush interval;
- P2 ``bench_predict.py``: TFSavedModelPredictBatchOp against TF called directly, Beam
  RunInference (rows made in the pipeline, with a SavedModel handler and with the stock Keras
  handler) and a bare PyFlink map over the same source;
- P4: the Flink side's memory (this process's RSS: in loopback mode the Python functions run
  here) sampled while an identity stream of ``--memory-rows`` rows runs;
- P5: job submit to ``main()`` entry, against a bare ``import tensorflow`` in a fresh process.

Every figure is a ratio against a baseline measured in the same run. Writes
``docs/benchmarks/results.json`` and PNG plots next to it; ``--profile`` also records the top
frames of a py-spy profile of the feed path.

    .venv/bin/python scripts/bench.py [--quick] [--out docs/benchmarks] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from bench_stream import IDENTITY_SCRIPT as IDENTITY  # noqa: E402 - the P3 identity script

STAMP = """
import time


def main(task_config):
    task_config.output_writer.write_row({"entered_ms": time.time_ns() // 1_000_000})
"""


def run_script(name: str, *args: str) -> dict:
    """Runs one of the standalone benchmarks with ``--json`` and returns its figures."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        command = [sys.executable, os.path.join(HERE, name), *args, "--json", path]
        print("$", " ".join(command[1:]), flush=True)
        done = subprocess.run(command, text=True, capture_output=True)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        print("\n".join(lines[-12:]), flush=True)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed:\n{done.stderr[-4000:]}")
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)


def memory(rows: int, script: str) -> dict:
    """P4: this process's RSS while an identity stream of ``rows`` rows runs (loopback)."""
    import psutil

    from operators import RandomTableSourceStreamOp, TensorFlowStreamOp, use_local_env

    use_local_env(1)
    process = psutil.Process()

    def run(n: int) -> None:
        op = TensorFlowStreamOp(user_files=[script], main_script_file=os.path.basename(script),
                                output_schema_str="id long, x double", num_workers=1)
        RandomTableSourceStreamOp(num_cols=1, max_rows=n, id_col="id").link(op).execute()

    run(10_000)  # warm-up: JVM, Python worker and TensorFlow caches
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not done.wait(0.5):
            samples.append((time.monotonic() - start, process.memory_info().rss / 2**20))

    before = process.memory_info().rss / 2**20
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    run(rows)
    done.set()
    sampler.join()
    peak = max((mb for _, mb in samples), default=before)
    return {"rows": rows, "rss_before_mb": before, "rss_peak_mb": peak,
            "growth_mb": peak - before, "samples": samples,
            "seconds": time.monotonic() - start}


def startup(trials: int, script: str) -> dict:
    """P5: submit -> main() entry, against a bare ``import tensorflow`` in a fresh process."""
    from operators import MemSourceBatchOp, TensorFlowBatchOp, use_local_env

    use_local_env(1)
    imports = []
    for _ in range(trials):
        begin = time.time()
        subprocess.run([sys.executable, "-c", "import tensorflow"], check=True,
                       capture_output=True)
        imports.append(time.time() - begin)

    def submit_to_main() -> float:
        op = TensorFlowBatchOp(user_files=[script], main_script_file=os.path.basename(script),
                               output_schema_str="entered_ms long", num_workers=1)
        submitted = time.time()
        (row,) = MemSourceBatchOp([(1,)], "a int").link(op).collect()
        return row[0] / 1000 - submitted

    submit_to_main()  # warm-up: the first job of a process also starts the JVM's caches
    mains = [submit_to_main() for _ in range(trials)]
    tf_import, to_main = statistics.median(imports), statistics.median(mains)
    return {"tf_import_s": imports, "submit_to_main_s": mains,
            "median_tf_import_s": tf_import, "median_submit_to_main_s": to_main,
            "over_tf_import_s": to_main - tf_import}


def _py_spy() -> str:
    """py-spy from this interpreter's venv (its bin dir need not be on PATH), else from PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "py-spy")
    found = beside if os.path.exists(beside) else shutil.which("py-spy")
    if not found:
        raise SystemExit("--profile needs py-spy: install the test extras (bash scripts/test.sh)")
    return found


def profile_feed(rows: int) -> dict:
    """Top frames (self time) of py-spy profiles of bench_feed, before and after: the row path
    (``dataPath=rows``, what every stage took before the columnar path) and the columnar one."""
    profiles = {}
    for path, flink_marker in (("rows", "_stage_function"), ("columnar", "_columnar_functions")):
        with tempfile.TemporaryDirectory() as tmp:
            raw = os.path.join(tmp, "feed.txt")
            subprocess.run([_py_spy(), "record", "-o", raw, "-f", "raw", "-r", "100",
                            "--subprocesses", "--", sys.executable,
                            os.path.join(HERE, "bench_feed.py"), "--rows", str(rows),
                            "--repeat", "1", "--data-path", path],
                           check=True, capture_output=True)
            profiles[path] = {"flink_side": top_frames(raw, flink_marker),
                              "tf_side": top_frames(raw, "akdl/runner/task_kinds.py")}
    return profiles


def top_frames(raw: str, marker: str, count: int = 12) -> list[tuple[str, float]]:
    """The frames with the most self time among the stacks that pass through ``marker``."""
    counts: dict[str, int] = {}
    total = 0
    with open(raw) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            if marker not in stack:
                continue
            frame = stack.split(";")[-1]
            counts[frame] = counts.get(frame, 0) + int(n)
            total += int(n)
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:count]
    return [(frame, 100.0 * n / max(total, 1)) for frame, n in ranked]


def plot(results: dict, out: str) -> list[str]:
    """PNG plots of the run; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
        written.append(name)

    ratios = results["ratios"]
    targets = {"P1 feed, 1 worker": 1.5, "P1 feed, 2 workers": 1.5, "P2 predict / Beam": 1.5,
               "P2b predict / bare map": 1.0, "P3 stream / bare map": 0.9}
    names = [n for n in targets if n in ratios]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.barh(names, [ratios[n] for n in names], color="#4c72b0", label="measured")
    ax.scatter([targets[n] for n in names], names, color="#c44e52", marker="|", s=400,
               label="target", zorder=3)
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("same-run ratio (higher is better)")
    ax.set_title("akdl against its baselines")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save(fig, "ratios.png")

    rates = results["rates"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = list(rates)
    ax.barh(labels, [rates[k] / 1000 for k in labels], color="#55a868")
    ax.set_xlabel("thousand rows/s (job start included)")
    ax.set_title("Throughput, one run")
    save(fig, "throughput.png")

    samples = results.get("memory", {}).get("samples") or []
    if samples:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.plot([t for t, _ in samples], [mb for _, mb in samples], color="#8172b2")
        ax.axhline(results["memory"]["rss_before_mb"], color="grey", linestyle="--",
                   label="before the run")
        ax.set_xlabel("seconds")
        ax.set_ylabel("Flink-side RSS (MiB)")
        ax.set_title(f"P4: identity stream of {results['memory']['rows']:,} rows")
        ax.legend()
        save(fig, "memory.png")

    latency = results.get("stream", {}).get("latency") or []
    if latency:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        for entry in latency:
            ax.hist(entry["latencies_ms"], bins=20, alpha=0.7,
                    label=f"flushIntervalMs={entry['flush_ms']}")
        ax.set_xlabel("idle output latency (ms)")
        ax.set_ylabel("rows")
        ax.legend()
        save(fig, "latency.png")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "benchmarks"))
    parser.add_argument("--quick", action="store_true", help="fewer rows and repeats")
    parser.add_argument("--profile", action="store_true", help="also profile the feed path")
    parser.add_argument("--memory-rows", type=int, default=None)
    args = parser.parse_args()
    quick = args.quick
    feed_rows, repeat = ("200000", "1") if quick else ("1000000", "3")
    os.makedirs(args.out, exist_ok=True)
    began = time.time()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                            capture_output=True).stdout.strip()
    results: dict = {
        "commit": commit,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    if args.profile:  # first: a missing profiler fails before the long part
        results["profile"] = profile_feed(int(feed_rows))
    results["feed"] = run_script("bench_feed.py", "--rows", feed_rows, "--workers", "1", "2",
                                 "--repeat", repeat)
    results["feed_process_mode"] = run_script(
        "bench_feed.py", "--rows", feed_rows, "--workers", "1", "2", "--repeat", "1",
        "--worker-mode", "process")
    results["stream"] = run_script("bench_stream.py", "--rows", "100000" if quick else "200000",
                                   "--repeat", repeat, "--flush-ms", "100")
    results["predict"] = run_script(
        "bench_predict.py", "--rows", "200000" if quick else "2000000", "--beam-source",
        "generated", "--beam-model", "savedmodel", "keras")
    with tempfile.TemporaryDirectory() as tmp:
        identity, stamp = os.path.join(tmp, "identity.py"), os.path.join(tmp, "stamp.py")
        for path, body in ((identity, IDENTITY), (stamp, STAMP)):
            with open(path, "w") as f:
                f.write(textwrap.dedent(body))
        memory_rows = args.memory_rows or (200_000 if quick else 2_000_000)
        results["memory"] = memory(memory_rows, identity)
        print(f"P4 memory: {memory_rows:,} rows, RSS {results['memory']['rss_before_mb']:.0f} "
              f"-> peak {results['memory']['rss_peak_mb']:.0f} MiB "
              f"(growth {results['memory']['growth_mb']:.0f} MiB)", flush=True)
        results["startup"] = startup(3, stamp)
        print(f"P5 start-up: submit -> main {results['startup']['median_submit_to_main_s']:.2f} s, "
              f"bare import tensorflow {results['startup']['median_tf_import_s']:.2f} s",
              flush=True)

    def median_ratio(runs: list[dict]) -> float:
        return statistics.median(r["ratio"] for r in runs)

    feed, stream, predict = results["feed"], results["stream"], results["predict"]
    beam_savedmodel = predict["beam"]["savedmodel, generated"]
    results["ratios"] = {
        "P1 feed, 1 worker": median_ratio(feed["workers"]["1"]),
        "P1 feed, 2 workers": median_ratio(feed["workers"]["2"]),
        "P2 predict / Beam": predict["A_flink"] / beam_savedmodel,
        "P2 predict / Beam default handler": predict["A_flink"] / predict["beam"][
            "keras, generated"],
        "P2 predict / TF direct": predict["A_flink"] / predict["B_tf_direct"],
        "P2b predict / bare map": predict["A_flink"] / predict["D_bare_map"],
        "P3 stream / bare map": median_ratio(stream["throughput"]["1"]["runs"]),
        "feed, process / loopback mode, 1 worker": (
            statistics.median(r["op_rows_per_s"] for r in results["feed_process_mode"]
                              ["workers"]["1"])
            / statistics.median(r["op_rows_per_s"] for r in feed["workers"]["1"])),
    }
    results["rates"] = {
        "feed: TensorFlowBatchOp": statistics.median(
            r["op_rows_per_s"] for r in feed["workers"]["1"]),
        "feed: bare map": statistics.median(r["map_rows_per_s"] for r in feed["workers"]["1"]),
        "stream: TensorFlowStreamOp": statistics.median(
            r["op_rows_per_s"] for r in stream["throughput"]["1"]["runs"]),
        "stream: bare map": statistics.median(
            r["map_rows_per_s"] for r in stream["throughput"]["1"]["runs"]),
        "predict: TFSavedModelPredictBatchOp": predict["A_flink"],
        "predict: Beam RunInference": beam_savedmodel,
        "predict: bare map": predict["D_bare_map"],
        "predict: TF direct": predict["B_tf_direct"],
    }
    results["seconds"] = time.time() - began
    results["plots"] = plot(results, args.out)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results["ratios"], indent=2))
    print(f"suite took {results['seconds'] / 60:.1f} min; wrote {args.out}/results.json and "
          f"{', '.join(results['plots'])}")


if __name__ == "__main__":
    main()
