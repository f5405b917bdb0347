"""Predict throughput: TFSavedModelPredictBatchOp against the same SavedModel called directly in TF
and through Apache Beam's RunInference (TF model handler, DirectRunner).

One SavedModel, built once in a subprocess: a Keras MLP (10 float inputs -> Dense(64, relu) ->
Dense(1, sigmoid)) behind a ``serving_default`` signature that takes ``f0``..``f9`` (float32
[None] each) and returns ``probability`` (float32 [None]). All three rates use --rows rows in
batches of --batch-size, at parallelism 1:

- A, Flink: ``RandomTableSourceBatchOp`` (id + f0..f9) -> ``TFSavedModelPredictBatchOp`` into a
  blackhole sink, timed from job submission to its end (job start and TF process start
  included). A small collected warm-up run checks the row count, and its predictions are
  compared with the model called directly in TF; a last full-size run counts its rows.
- B, TF direct: ``tf.saved_model.load(DIR).signatures["serving_default"]`` over numpy batches
  made beforehand; slicing, conversion to tensors and ``.numpy()`` of the output are timed,
  model loading is not.
- C, Beam: ``beam.Create`` of numpy rows (float32 [10]) -> ``RunInference`` with a
  ``TFModelHandlerNumpy`` batching exactly --batch-size rows, on the DirectRunner
  (``direct_num_workers=1``), timed from building the pipeline to the end of its run (model
  load included).
  ``--beam-model savedmodel`` (default) loads the same SavedModel with ``tf.saved_model.load``
  and feeds the signature column by column through the handler's ``inference_fn``; ``keras``
  uses the handler's stock loader and call on a single-input ``.keras`` copy of the same
  weights (input [None, 10]). Either way Beam's ``tensorflow_hub`` import is stubbed when
  the package is missing (its ``resolve`` is only the identity for local paths).
  ``--beam-source create`` (the rate C) builds the rows in the driver, made beforehand, and
  ships them with ``beam.Create``, which pickles and compresses them into the pipeline;
  ``generated`` (C') creates only chunk seeds and makes the rows inside the pipeline, as
  Flink's datagen source does, so that C' shows RunInference without that shipping cost.

- D, bare map: the same source through a bare PyFlink Python ``map`` (one row at a time, a
  trivial function of the features) into a blackhole sink: what any Python stage over these rows
  pays, without TensorFlow.
- E, SQL function (``--sql``): the same source and model through ``register_predict_function``
  in ``SELECT id, predict_probability(f0, ..., f9) FROM source`` into a blackhole sink, timed
  like A, in the same loop.

TensorFlow is never imported in this process: the model build (before the Flink runs), B and
C (after them) each run in a child process (this script with ``--child``) that reports one
JSON line.

    .venv/bin/python scripts/bench_predict.py [--rows 200000] [--batch-size 256] [--repeat 1]
        [--beam-model savedmodel keras] [--beam-source create generated] [--sql] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

FEATURES = [f"f{i}" for i in range(10)]
SAVED_MODEL = "saved_model"
KERAS_FILE = "model.keras"
CHECK_FILE = "flink_sample.json"
WARMUP_ROWS = 2_000
CHUNK_ROWS = 8_192  # rows made per element by the generated Beam source


# --- children (TensorFlow / Beam side) ---------------------------------------------------------


def child_build(workdir: str) -> dict:
    """Saves the SavedModel and a single-input .keras copy with the same weights."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((len(FEATURES),)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])

    class Serving(tf.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name=n) for n in FEATURES])
        def serve(self, *columns):
            return {"probability": self.net(tf.stack(columns, axis=1))[:, 0]}

    serving = Serving(model)
    tf.saved_model.save(serving, os.path.join(workdir, SAVED_MODEL),
                        signatures={"serving_default": serving.serve})
    model.save(os.path.join(workdir, KERAS_FILE))
    signature = tf.saved_model.load(os.path.join(workdir, SAVED_MODEL)).signatures[
        "serving_default"]
    inputs = sorted(signature.structured_input_signature[1])
    return {"inputs": inputs, "outputs": sorted(signature.structured_outputs)}


def child_direct(workdir: str, rows: int, batch_size: int, repeat: int) -> dict:
    """Rate B, and the check of the Flink warm-up predictions against the model in TF."""
    import numpy as np
    import tensorflow as tf

    signature = tf.saved_model.load(os.path.join(workdir, SAVED_MODEL)).signatures[
        "serving_default"]

    def predict(x: np.ndarray) -> np.ndarray:
        feed = {name: tf.convert_to_tensor(x[:, i]) for i, name in enumerate(FEATURES)}
        return signature(**feed)["probability"].numpy()

    with open(os.path.join(workdir, CHECK_FILE)) as f:
        sample = json.load(f)
    expected = predict(np.asarray(sample["x"], dtype=np.float32))
    max_diff = float(np.max(np.abs(expected - np.asarray(sample["p"]))))

    data = np.random.default_rng(0).random((rows, len(FEATURES)), dtype=np.float32)
    for start in range(0, min(rows, 20 * batch_size), batch_size):  # warm-up: tracing, threads
        predict(data[start:start + batch_size])
    seconds = []
    for _ in range(repeat):
        begin = time.perf_counter()
        done = 0
        for start in range(0, rows, batch_size):
            done += len(predict(data[start:start + batch_size]))
        seconds.append(time.perf_counter() - begin)
        if done != rows:
            raise SystemExit(f"direct TF predicted {done} rows, expected {rows}")
    return {"seconds": seconds, "check_rows": len(sample["p"]), "check_max_abs_diff": max_diff}


def _stub_tensorflow_hub() -> bool:
    """Beam's TF handler imports tensorflow_hub only for ``hub.resolve`` of the model path."""
    import importlib.util
    import types

    if importlib.util.find_spec("tensorflow_hub") is not None:
        return False
    hub = types.ModuleType("tensorflow_hub")
    hub.resolve = lambda handle: handle
    sys.modules["tensorflow_hub"] = hub
    return True


def child_beam(workdir: str, rows: int, batch_size: int, repeat: int, variant: str,
               source: str) -> dict:
    """Rate C: RunInference with a TFModelHandlerNumpy on the DirectRunner."""
    stubbed = _stub_tensorflow_hub()
    import apache_beam as beam
    import numpy as np
    import tensorflow as tf
    from apache_beam.metrics import Metrics
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.ml.inference.base import PredictionResult, RunInference
    from apache_beam.ml.inference.tensorflow_inference import TFModelHandlerNumpy
    from apache_beam.options.pipeline_options import PipelineOptions

    batching = {"min_batch_size": batch_size, "max_batch_size": batch_size}
    if variant == "keras":
        handler = TFModelHandlerNumpy(os.path.join(workdir, KERAS_FILE), **batching)
    else:

        def by_signature(model, batch, inference_args, model_id=None):
            x = np.stack(batch, axis=0)
            feed = {name: tf.convert_to_tensor(x[:, i]) for i, name in enumerate(FEATURES)}
            probability = model.signatures["serving_default"](**feed)["probability"].numpy()
            return [PredictionResult(e, p, model_id) for e, p in zip(batch, probability)]

        class SavedModelHandler(TFModelHandlerNumpy):
            # Keras 3's tf.keras.models.load_model (the stock loader) reads no SavedModel dir.
            def load_model(self):
                return tf.saved_model.load(self._model_uri)

        handler = SavedModelHandler(os.path.join(workdir, SAVED_MODEL),
                                    inference_fn=by_signature, **batching)

    counter = Metrics.counter("bench_predict", "predictions")

    def count(result):
        counter.inc()
        return result

    def make_rows(chunk):
        seed, count = chunk
        return list(np.random.default_rng(seed).random((count, len(FEATURES)), dtype=np.float32))

    if source == "create":
        data = np.random.default_rng(0).random((rows, len(FEATURES)), dtype=np.float32)
        elements = list(data)
    else:
        elements = [(seed, min(CHUNK_ROWS, rows - start))
                    for seed, start in enumerate(range(0, rows, CHUNK_ROWS))]
    options = PipelineOptions(runner="DirectRunner", direct_num_workers=1)
    seconds, counted = [], []
    for _ in range(repeat):
        begin = time.perf_counter()
        pipeline = beam.Pipeline(options=options)
        pcoll = pipeline | beam.Create(elements)
        if source != "create":
            pcoll = pcoll | beam.FlatMap(make_rows)
        _ = pcoll | RunInference(handler) | beam.Map(count)
        result = pipeline.run()
        result.wait_until_finish()
        seconds.append(time.perf_counter() - begin)
        found = result.metrics().query(MetricsFilter().with_name("predictions"))["counters"]
        counted.append(sum(c.committed for c in found))
    if any(c != rows for c in counted):
        raise SystemExit(f"Beam predicted {counted} rows per run, expected {rows}")
    return {"seconds": seconds, "hub_stubbed": stubbed, "beam": beam.__version__}


def run_child(*args: str) -> dict:
    """Runs this script with ``--child`` and returns the JSON of its last stdout line."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", *args],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-8000:])
        raise SystemExit(f"child {args[0]} failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- Flink side (no TensorFlow in this process) ------------------------------------------------


def flink_op(workdir: str, rows: int, batch_size: int, reserved: list[str]):
    from operators import RandomTableSourceBatchOp, TFSavedModelPredictBatchOp

    source = RandomTableSourceBatchOp(num_rows=rows, num_cols=len(FEATURES), id_col="id",
                                      output_cols=FEATURES)
    return TFSavedModelPredictBatchOp(
        model_path=os.path.join(workdir, SAVED_MODEL), selected_cols=FEATURES,
        output_schema_str="probability double", reserved_cols=reserved, batch_size=batch_size,
    ).linkFrom(source)


def flink_warmup_and_sample(workdir: str, batch_size: int) -> None:
    """A collected run: checks ids and count, keeps inputs and outputs for the TF check."""
    out = flink_op(workdir, WARMUP_ROWS, batch_size, ["id", *FEATURES]).collect()
    ids = sorted(r[0] for r in out)
    if ids != list(range(WARMUP_ROWS)):
        raise SystemExit(f"Flink warm-up returned {len(ids)} rows, not ids 0..{WARMUP_ROWS - 1}")
    sample = {"x": [list(r[1:11]) for r in out], "p": [r[11] for r in out]}
    with open(os.path.join(workdir, CHECK_FILE), "w") as f:
        json.dump(sample, f)


def time_flink(workdir: str, rows: int, batch_size: int) -> float:
    from pyflink.table import TableDescriptor

    table = flink_op(workdir, rows, batch_size, ["id"]).getTable()
    start = time.perf_counter()
    table.execute_insert(TableDescriptor.for_connector("blackhole").build()).wait()
    return time.perf_counter() - start


def time_bare_map(rows: int) -> float:
    """D: the same generated rows through a bare Python map into a blackhole sink."""
    from pyflink.common import Row, Types
    from pyflink.table import TableDescriptor

    from operators import RandomTableSourceBatchOp

    table = RandomTableSourceBatchOp(num_rows=rows, num_cols=len(FEATURES), id_col="id",
                                     output_cols=FEATURES).getTable()
    t_env = table._t_env
    mapped = t_env.to_data_stream(table).map(
        lambda r: Row(r[0], r[1] + r[2]),
        output_type=Types.ROW_NAMED(["id", "s"], [Types.LONG(), Types.DOUBLE()]),
    ).set_parallelism(1)
    start = time.perf_counter()
    t_env.from_data_stream(mapped).execute_insert(
        TableDescriptor.for_connector("blackhole").build()).wait()
    return time.perf_counter() - start


def time_sql_function(workdir: str, rows: int, batch_size: int) -> float:
    """E: the model as a SQL function over the same generated rows, into a blackhole sink."""
    from pyflink.table import TableDescriptor

    from operators import RandomTableSourceBatchOp, register_predict_function

    table = RandomTableSourceBatchOp(num_rows=rows, num_cols=len(FEATURES), id_col="id",
                                     output_cols=FEATURES).getTable()
    t_env = table._t_env
    register_predict_function(
        "predict_probability", os.path.join(workdir, SAVED_MODEL),
        ", ".join(f"{f} double" for f in FEATURES), "probability double", t_env=t_env,
        batch_size=batch_size)
    t_env.create_temporary_view("bench_source", table)
    query = t_env.sql_query(
        f"SELECT id, predict_probability({', '.join(FEATURES)}) AS p FROM bench_source")
    start = time.perf_counter()
    query.execute_insert(TableDescriptor.for_connector("blackhole").build()).wait()
    elapsed = time.perf_counter() - start
    t_env.drop_temporary_view("bench_source")
    return elapsed


def count_flink(workdir: str, rows: int, batch_size: int) -> tuple[int, float]:
    from pyflink.table.expressions import lit

    table = flink_op(workdir, rows, batch_size, ["id"]).getTable()
    start = time.perf_counter()
    with table.select(lit(1).count).execute().collect() as results:
        counted = next(iter(results))[0]
    return counted, time.perf_counter() - start


# --- driver ------------------------------------------------------------------------------------


def rate_line(label: str, rows: int, seconds: list[float]) -> str:
    runs = ", ".join(f"{rows / s:,.0f}" for s in seconds)
    median = rows / statistics.median(seconds)
    return f"{label:<47} {median:>9,.0f} rows/s  (median of {len(seconds)}: {runs})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed runs of each rate; the median is reported")
    parser.add_argument("--beam-model", nargs="+", choices=["savedmodel", "keras"],
                        default=["savedmodel"],
                        help="how Beam loads and calls the model (see the module docstring)")
    parser.add_argument("--beam-source", nargs="+", choices=["create", "generated"],
                        default=["create", "generated"],
                        help="where Beam's rows come from (see the module docstring)")
    parser.add_argument("--remote", metavar="HOST:PORT",
                        help="run the Flink sides (A, D) on this cluster (use_remote_env)")
    parser.add_argument("--sql", action="store_true",
                        help="also time the model as a SQL function (E)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, workdir, *rest = args.child
        if kind == "build":
            result = child_build(workdir)
        elif kind == "direct":
            result = child_direct(workdir, args.rows, args.batch_size, args.repeat)
        else:
            result = child_beam(workdir, args.rows, args.batch_size, args.repeat, *rest)
        print(json.dumps(result), flush=True)
        return

    from operators import use_local_env, use_remote_env

    rows, batch = args.rows, args.batch_size
    with tempfile.TemporaryDirectory() as workdir:
        begin = time.perf_counter()
        built = run_child("build", workdir)
        print(f"model: serving_default {built['inputs'][0]}..{built['inputs'][-1]} -> "
              f"{built['outputs']}, Dense(64, relu) -> Dense(1, sigmoid); built in "
              f"{time.perf_counter() - begin:.1f} s", flush=True)
        print(f"rows={rows} batch_size={batch} repeat={args.repeat} parallelism=1", flush=True)

        if args.remote:
            host, port = args.remote.rsplit(":", 1)
            use_remote_env(host, int(port), 1)
        else:
            use_local_env(1)
        flink_warmup_and_sample(workdir, batch)
        time_bare_map(2_000)  # warm-up of the map's path
        if args.sql:
            time_sql_function(workdir, 2_000, batch)  # warm-up of the function's path
        flink_seconds, map_seconds, sql_seconds = [], [], []
        for attempt in range(args.repeat):
            flink_seconds.append(time_flink(workdir, rows, batch))
            map_seconds.append(time_bare_map(rows))
            print(f"  A run {attempt + 1}: {flink_seconds[-1]:.1f} s; "
                  f"D run {attempt + 1}: {map_seconds[-1]:.1f} s", flush=True)
            if args.sql:
                sql_seconds.append(time_sql_function(workdir, rows, batch))
                print(f"  E run {attempt + 1}: {sql_seconds[-1]:.1f} s", flush=True)
        counted, count_seconds = count_flink(workdir, rows, batch)
        if counted != rows:
            raise SystemExit(f"Flink COUNT(*) gave {counted} rows, expected {rows}")
        print(f"  A check: COUNT(*) over the predictions = {counted:,} "
              f"({rows / count_seconds:,.0f} rows/s, not in the median); "
              f"TensorFlow imported in this process: {'tensorflow' in sys.modules}", flush=True)

        direct = run_child("direct", workdir, "--rows", str(rows), "--batch-size", str(batch),
                           "--repeat", str(args.repeat))
        print(f"  B check: Flink warm-up predictions ({direct['check_rows']:,} rows) vs TF "
              f"direct: max |diff| = {direct['check_max_abs_diff']:.2e}", flush=True)
        beams = {}
        for source in args.beam_source:
            for model in args.beam_model:
                variant = f"{model}, {source}"
                beams[variant] = run_child("beam", workdir, model, source, "--rows", str(rows),
                                           "--batch-size", str(batch), "--repeat",
                                           str(args.repeat))
                for attempt, seconds in enumerate(beams[variant]["seconds"]):
                    print(f"  C[{variant}] run {attempt + 1}: {seconds:.1f} s", flush=True)

    rate_a = rows / statistics.median(flink_seconds)
    rate_b = rows / statistics.median(direct["seconds"])
    rate_d = rows / statistics.median(map_seconds)
    labels = {v: "C" if v.endswith("create") else "C'" for v in beams}
    print()
    print(rate_line("A  Flink TFSavedModelPredictBatchOp", rows, flink_seconds))
    print(rate_line("B  TF direct (signature call)", rows, direct["seconds"]))
    for variant, result in beams.items():
        label = f"{labels[variant]:<2} Beam RunInference [{variant}]"
        print(rate_line(label, rows, result["seconds"]))
    print(rate_line("D  bare PyFlink Python map, same source", rows, map_seconds))
    if sql_seconds:
        print(rate_line("E  SQL function (register_predict_function)", rows, sql_seconds))
    print()
    print(f"A/B  = {rate_a / rate_b:.3f}  (Flink operator rate as a fraction of TF direct)")
    print(f"A/D  = {rate_a / rate_d:.3f}  (Flink operator / bare PyFlink map)")
    if sql_seconds:
        rate_e = rows / statistics.median(sql_seconds)
        print(f"E/A  = {rate_e / rate_a:.3f}  (SQL function / Flink operator)")
        print(f"E/D  = {rate_e / rate_d:.3f}  (SQL function / bare PyFlink map)")
    for variant, result in beams.items():
        rate_c, c = rows / statistics.median(result["seconds"]), labels[variant]
        print(f"{'A/' + c:<4} = {rate_a / rate_c:.3f}  (Flink operator / Beam [{variant}])")
        print(f"{c + '/B':<4} = {rate_c / rate_b:.3f}  (Beam [{variant}] / TF direct)")
    notes = []
    if any(r["hub_stubbed"] for r in beams.values()):
        notes.append("tensorflow_hub is not installed: Beam's import of it was stubbed")
    if "keras" in args.beam_model:
        notes.append(f"Beam [keras] ran the single-input {KERAS_FILE} copy (same weights)")
    beam_version = next(iter(beams.values()))["beam"] if beams else "-"
    if args.json:
        figures = {"rows": rows, "batch_size": batch, "A_flink": rate_a, "B_tf_direct": rate_b,
                   "D_bare_map": rate_d,
                   "beam": {v: rows / statistics.median(r["seconds"]) for v, r in beams.items()}}
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    print()
    print(f"From one invocation on this machine (Beam {beam_version}, {os.cpu_count()} CPUs, "
          "shared with other work): the ratios are indicative only. A and C/C' include "
          "job/pipeline start and model load; B excludes model load."
          + "".join(f"\nNote: {n}." for n in notes))


if __name__ == "__main__":
    main()
