"""A whole ML workflow in one Flink program: prep, train, register, score.

The shape of Azure ML's tutorial pipeline (prep, train, score, with metrics logged by the
training script), on generated data:

1. prep with SQL: make features and labels, and split them into train and held-out rows;
2. train the bundled DNN with ``TFTableModelTrainBatchOp`` on 2 workers; it logs ``loss`` and
   ``accuracy`` per epoch, which land in ``getMetrics()``, a plot, and the MLflow run;
3. register the model in MLflow (``akdl.mlflow.log_model``);
4. score the held-out rows through ``models:/<name>/<version>``, with the predict operator and
   with a SQL function.

Run: ``python examples/workflow.py [--out DIR] [--tracking-uri URI]``. It prints both
accuracies and writes ``metrics.png`` into ``--out`` (and the MLflow store, by default).
"""

from __future__ import annotations

import argparse
import json
import os

import mlflow

import akdl.mlflow
from operators import (
    BatchOperator,
    RandomTableSourceBatchOp,
    TFSavedModelPredictBatchOp,
    TFTableModelTrainBatchOp,
    get_batch_table_env,
    register_predict_function,
    use_local_env,
)

FEATURES = ["f0", "f1", "f2", "f3"]
MODEL_NAME = "akdl-workflow-dnn"
EXPERIMENT = "akdl-workflow"
DNN_TRAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                         "akdl", "models", "tf", "dnn", "dnn_train.py")


def prep(rows: int) -> tuple[BatchOperator, BatchOperator]:
    """Step 1: features and labels in SQL; every fifth row is held out.

    The features are a hash of the row id (the fractional part of a scaled sine), so every
    job that reads the view sees the same rows.
    """
    t_env = get_batch_table_env()
    ids = RandomTableSourceBatchOp(num_rows=rows, num_cols=1, id_col="id")
    t_env.create_temporary_view("ids", ids.getTable())
    hashed = ", ".join(
        f"SIN(id * {12.9898 + 7.233 * i}) * 43758.5453 AS h{i}" for i in range(len(FEATURES)))
    features = ", ".join(f"h{i} - FLOOR(h{i}) - 0.5 AS {name}"
                         for i, name in enumerate(FEATURES))
    t_env.create_temporary_view("labelled", t_env.sql_query(f"""
        SELECT id, {", ".join(FEATURES)},
               CASE WHEN f0 + f1 - f2 + 0.5 * f3 > 0 THEN 1 ELSE 0 END AS label
        FROM (SELECT id, {features} FROM (SELECT id, {hashed} FROM ids))"""))
    train = BatchOperator.fromTable(t_env.sql_query(
        "SELECT * FROM labelled WHERE MOD(id, 5) <> 0"))
    held_out = BatchOperator.fromTable(t_env.sql_query(
        "SELECT * FROM labelled WHERE MOD(id, 5) = 0"))
    return train, held_out


def train(data: BatchOperator, epochs: int) -> TFTableModelTrainBatchOp:
    """Step 2: the bundled DNN on 2 workers (it logs loss and accuracy per epoch)."""
    params = {"featureCols": json.dumps(FEATURES), "labelCol": "label", "batch_size": 32,
              "num_epochs": epochs, "learning_rate": 0.02}
    return TFTableModelTrainBatchOp(
        main_script_file=DNN_TRAIN, user_params=json.dumps(params), num_workers=2,
        rendezvous_timeout_s=120.0,
    ).linkFrom(data)


def accuracy(rows: list, label: int, prediction: int) -> float:
    """The share of rows whose prediction equals their label."""
    return sum(1 for r in rows if r[label] == r[prediction]) / max(len(rows), 1)


def score_with_operator(model_uri: str, held_out: BatchOperator) -> float:
    """Step 4a: the predict operator over the held-out rows, the model from the registry."""
    predict = TFSavedModelPredictBatchOp(
        model_path=model_uri, selected_cols=FEATURES, reserved_cols=["id", "label"],
        output_schema_str="probability double, prediction long",
    ).linkFrom(held_out)
    return accuracy(predict.collect(), label=1, prediction=3)


def score_with_sql(model_uri: str) -> float:
    """Step 4b: the same model as a SQL function."""
    t_env = get_batch_table_env()
    register_predict_function(
        "predict_label", model_uri, ", ".join(f"{f} double" for f in FEATURES),
        "prediction long", t_env=t_env,
    )
    table = t_env.sql_query(
        f"SELECT id, label, predict_label({', '.join(FEATURES)}) AS p FROM labelled "
        "WHERE MOD(id, 5) = 0")
    return accuracy(BatchOperator.fromTable(table).collect(), label=1, prediction=2)


def main() -> None:
    """Run the four steps and print what each produced."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="akdl-workflow", help="where outputs go")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: a sqlite store in --out)")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    else:  # a store of its own in --out, artifacts included (not ./mlruns)
        mlflow.set_tracking_uri(f"sqlite:///{out}/mlflow.db")
        if mlflow.get_experiment_by_name(EXPERIMENT) is None:
            mlflow.create_experiment(EXPERIMENT, artifact_location=f"file://{out}/artifacts")
    mlflow.set_experiment(EXPERIMENT)
    use_local_env(2)

    train_rows, held_out = prep(args.rows)
    with mlflow.start_run(run_name="akdl-workflow") as run:
        trainer = train(train_rows, args.epochs)
        info = akdl.mlflow.log_model(trainer, registered_model_name=MODEL_NAME)
    print(f"trained and registered {MODEL_NAME} version {info.registered_model_version} "
          f"in MLflow run {run.info.run_id}")
    metrics = trainer.getMetrics()
    last = metrics[metrics["name"] == "accuracy"].groupby("task")["value"].last()
    print("training accuracy of the last epoch:", last.round(3).to_dict())
    plot = trainer.plotMetrics(os.path.join(out, "metrics.png"))
    print(f"metrics plot: {plot}")

    model_uri = f"models:/{MODEL_NAME}/{info.registered_model_version}"
    print(f"held-out accuracy through {model_uri}, predict operator: "
          f"{score_with_operator(model_uri, held_out):.3f}")
    print(f"held-out accuracy through {model_uri}, SQL function: "
          f"{score_with_sql(model_uri):.3f}")


if __name__ == "__main__":
    main()
