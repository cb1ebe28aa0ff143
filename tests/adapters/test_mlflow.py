"""The MLflow adapter on real MLflow (sqlite tracking store in a temp dir): a run captured live inside a workflow
and runs imported after the fact with `provgraph import mlflow` (twice: nothing changes), with params, metrics,
tags, an artifact and a logged model, asserted as the exact graph on Neo4j and on the embedded engine."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest
from _adapter_helpers import ROOT, edges, run_captured

pytestmark = [pytest.mark.adapters, pytest.mark.services]

WORKLOAD = r"""
import os, sys
import mlflow
import capture
from capture.adapters import mlflow as pg_mlflow

mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("adapter-test")


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


with open("notes.txt", "w") as handle:
    handle.write("trained on toy data " + sys.argv[2])  # this run's own content (files are content-hashed)

with capture.Workflow("mlflow_test") as run:
    with pg_mlflow.start_run(run_name="train") as active:
        mlflow.log_params({"lr": 0.1, "epochs": 2, "api_key": "sk-live-not-to-be-seen-0123456789"})
        for step, loss in enumerate((1.0, 0.5)):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.set_tag("team", "vision")
        mlflow.log_artifact("notes.txt")
        model = mlflow.pyfunc.log_model(name="echo", python_model=Echo(), pip_requirements=["mlflow"])
    print("run:", run.id)
    print("live:", active.info.run_id)
    print("model:", model.model_id)

with mlflow.start_run(run_name="later") as other:    # not captured: imported after the fact
    mlflow.log_param("depth", 3)
    mlflow.log_metric("acc", 0.75, step=5)
print("other:", other.info.run_id)
"""


TOKEN = uuid.uuid4().hex


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    lines, messages = run_captured(WORKLOAD, tmp, uri, TOKEN)
    return {**lines, "uri": uri}, messages


def _mlflow_graph(backend, doc: str, activity: str) -> set[tuple]:
    """The relations of one MLflow run's activity in ``doc``, ids made readable."""
    out = set()
    for row in edges(backend, doc):
        if activity not in (row["s"], row["t"]) and row["type"] != "wasDerivedFrom":
            continue
        if row["type"] == "wasDerivedFrom" and row["props"].get("activity") != activity:
            continue

        def readable(end, row=row):
            props, labels, node_id = row[f"{end}_props"], row[f"{end}_labels"], row[end]
            if node_id == activity:
                return "mlflow_run"
            if node_id == doc:
                return "workflow_run"
            if "Metric" in labels:
                return f"metric:{props['metric']}@{props['step']}={props['value']}"
            if "Model" in labels:
                return f"model:{props['name']}"
            if "File" in labels:
                return f"file:{props['mlflow_artifact_path']}:{props['sha256']}"
            if "mlflow_param" in props:
                return f"param:{props['mlflow_param']}"
            return node_id

        out.add((readable("s"), row["type"], readable("t"), row["props"].get("role")))
    return out


def test_live_run_inside_a_workflow(captured, load, any_backend):
    lines, messages = captured
    load(messages)
    run, live = lines["run"], lines["live"]
    activity = f"pgid:mlflow_run_{live}"
    notes = "file:notes.txt:" + hashlib.sha256(f"trained on toy data {TOKEN}".encode()).hexdigest()
    params = ("param:api_key", "param:epochs", "param:lr")
    products = (notes, "model:echo")
    assert _mlflow_graph(any_backend, run, activity) == {
        ("mlflow_run", "wasStartedBy", "workflow_run", None),
        *{("mlflow_run", "used", p, p.split(":")[1]) for p in params},
        ("metric:loss@0=1.0", "wasGeneratedBy", "mlflow_run", None),
        ("metric:loss@1=0.5", "wasGeneratedBy", "mlflow_run", None),
        (notes, "wasGeneratedBy", "mlflow_run", "notes.txt"),
        ("model:echo", "wasGeneratedBy", "mlflow_run", "echo"),
        *{(product, "wasDerivedFrom", p, None) for product in products for p in params},
    }
    (task,) = any_backend.read(
        "MATCH (t:Task {id: $id}) RETURN t.name AS name, t.kind AS kind, t.status AS status, "
        "t.mlflow_experiment AS experiment, t.mlflow_tags AS tags",
        {"id": activity},
    )
    assert task == {
        "name": "train",
        "kind": "mlflow_run",
        "status": "FINISHED",
        "experiment": "adapter-test",
        "tags": '{"team":"vision"}',
    }
    values = {
        row["name"]: row["value"]
        for row in any_backend.read(
            "MATCH (t:Task {id: $id})-[:used]->(p:Entity) RETURN p.mlflow_param AS name, p.value AS value",
            {"id": activity},
        )
    }
    assert (values["lr"], values["epochs"]) == ("0.1", "2")
    assert values["api_key"].startswith("[REDACTED") and "sk-live" not in json.dumps(values)
    (model,) = any_backend.read(
        "MATCH (m:Model {name: 'echo'})-[:wasGeneratedBy]->(:Task {id: $id}) RETURN m.id AS id, m.mlflow_model_uri AS uri",
        {"id": activity},
    )
    assert model == {"id": f"pgid:mlflow_model_{lines['model']}", "uri": f"models:/{lines['model']}"}


def _import(any_settings, uri: str) -> str:
    env = {key: value for key, value in os.environ.items() if key not in ("PROVGRAPH_SETTINGS",)}
    env.update(
        PROVGRAPH_GRAPH_URL=any_settings.graph_url,
        PROVGRAPH_HOME=any_settings.home,
        PROVGRAPH_REDIS_URL=any_settings.redis_url,
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-m", "provgraph", "import", "mlflow", "--tracking-uri", uri],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _counts(backend, doc: str) -> tuple[int, int]:
    nodes = backend.read("MATCH (n:Element) WHERE $doc IN n.docs RETURN count(n) AS n", {"doc": doc})[0]["n"]
    rels = backend.read("MATCH ()-[r]->() WHERE r.doc = $doc RETURN count(r) AS n", {"doc": doc})[0]["n"]
    return nodes, rels


def test_import_after_the_fact_is_idempotent(captured, load, any_backend, any_settings):
    from provgraph.adapters import import_mlflow

    lines, _ = captured
    other, live = lines["other"], lines["live"]
    docs = [f"pgid:run_mlflow_{other}", f"pgid:run_mlflow_{live}"]
    load.docs.update(docs)
    any_backend.ensure_schema()
    printed = _import(any_settings, lines["uri"])
    assert printed.startswith("imported 2 MLflow runs")
    first = [_counts(any_backend, doc) for doc in docs]
    again = import_mlflow(any_backend, lines["uri"])  # the same runs once more: nothing changes
    assert again.runs == 2 and [_counts(any_backend, doc) for doc in docs] == first

    activity = f"pgid:mlflow_run_{other}"
    assert _mlflow_graph(any_backend, docs[0], activity) == {
        ("mlflow_run", "wasStartedBy", "workflow_run", None),
        ("mlflow_run", "used", "param:depth", "depth"),
        ("metric:acc@5=0.75", "wasGeneratedBy", "mlflow_run", None),
    }
    (workflow,) = any_backend.read(
        "MATCH (r:WorkflowRun {id: $doc}) RETURN r.subtype AS subtype, r.name AS name", {"doc": docs[0]}
    )
    assert workflow == {"subtype": "mlflow_import", "name": "later"}
    # The run captured live is the same node when imported: one activity, in both documents.
    (node,) = any_backend.read(
        "MATCH (t:Task {id: $id}) RETURN size(t.docs) AS docs", {"id": f"pgid:mlflow_run_{live}"}
    )
    assert node["docs"] >= 1


def test_import_without_a_tracking_uri_is_one_line_error(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "provgraph", "import", "mlflow"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "provgraph: `provgraph import mlflow` needs --tracking-uri URI (or $MLFLOW_TRACKING_URI)"
    ]
