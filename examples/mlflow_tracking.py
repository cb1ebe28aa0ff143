"""An MLflow run recorded as a task of the workflow around it (needs `provgraph[adapters]`).

`capture.adapters.mlflow.start_run` is `mlflow.start_run`; when the MLflow run ends, its params (inputs), metric
points (Metric entities), tags and artifacts (File entities derived from the params) are recorded in the current
workflow run. Runs that already exist are imported with `provgraph import mlflow --tracking-uri URI`.
"""

import os
import tempfile

import mlflow

import capture
from capture.adapters import mlflow as pg_mlflow

WORKDIR = tempfile.mkdtemp(prefix="provgraph-mlflow-")

if __name__ == "__main__":
    mlflow.set_tracking_uri(f"sqlite:///{os.path.join(WORKDIR, 'mlflow.db')}")
    # Artifacts go under WORKDIR too (a sqlite store's default artifact root is ./mlruns in the current folder).
    mlflow.create_experiment("example", artifact_location=os.path.join(WORKDIR, "artifacts"))
    mlflow.set_experiment("example")
    with capture.Workflow("mlflow_tracking") as run:
        with pg_mlflow.start_run(run_name="baseline"):
            mlflow.log_params({"lr": 0.01, "epochs": 3})
            for epoch in range(3):
                mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
            summary = os.path.join(WORKDIR, "summary.txt")
            with open(summary, "w") as handle:
                handle.write("final loss 0.33\n")
            mlflow.log_artifact(summary)
    print("run:", run.id)
