"""PyTorch depth on real torch: `instrument_model(model, depth=1)` records the model's and its children's forwards
as nested tasks inside epoch and batch loops, each using its module's entity, tensors flowing from layer to layer,
a per-layer profile, and the checkpoint file derived from the model; exact graph on Neo4j and the embedded engine."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from _adapter_helpers import edges, run_captured

pytestmark = [pytest.mark.adapters, pytest.mark.services]

WORKLOAD = r"""
import os
import torch
import capture
from capture.adapters import torch as pg_torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.encoder(x))


torch.manual_seed(int.from_bytes(os.urandom(4), "big"))  # this run's own checkpoint bytes (content-hashed)
model = pg_torch.instrument_model(Net(), depth=1)
data = [(torch.randn(3, 4), torch.randn(3, 1)) for _ in range(2)]
optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
with capture.Workflow("torch_test") as run:
    for _epoch in pg_torch.epochs(1):
        for x, y in pg_torch.batches(data):
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimiser.step()
    pg_torch.save_checkpoint(model, "model.pt")
print("run:", run.id)
print("model:", model.__provgraph_instrumented__.model_id)
"""


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    return run_captured(WORKLOAD, tmp_path_factory.mktemp("torch"))


def test_child_forwards_are_nested_tasks_using_their_layers(captured, load, any_backend):
    lines, messages = captured
    run, model = lines["run"], lines["model"]
    load(messages)
    rows = any_backend.read(
        "MATCH (a:Activity)-[:wasStartedBy]->(p:Activity) WHERE (a)-[:wasStartedBy*1..10]->(:WorkflowRun {id: $run}) "
        "RETURN a.name AS name, p.name AS parent",
        {"run": run},
    )
    assert Counter((r["name"], r["parent"]) for r in rows) == Counter(
        {
            ("epochs", "torch_test"): 1,
            ("epochs.iteration", "epochs"): 1,
            ("batches", "epochs.iteration"): 1,
            ("batches.iteration", "batches"): 2,
            ("Net.forward", "batches.iteration"): 2,
            ("Net.encoder", "Net.forward"): 2,
            ("Net.head", "Net.forward"): 2,
        }
    )
    used = Counter(
        (r["task"], r["model"])
        for r in any_backend.read(
            "MATCH (t:Task)-[u:used {role: 'model'}]->(m:Model) WHERE (t)-[:wasStartedBy*1..10]->(:WorkflowRun {id: $run}) "
            "RETURN t.name AS task, m.id AS model",
            {"run": run},
        )
    )
    assert used == Counter(
        {("Net.forward", model): 2, ("Net.encoder", f"{model}.encoder"): 2, ("Net.head", f"{model}.head"): 2}
    )
    # The head used the tensor the encoder generated, in each batch.
    flows = any_backend.read(
        "MATCH (h:Task {name: 'Net.head'})-[u:used]->(e:Entity)-[:wasGeneratedBy]->(enc:Task {name: 'Net.encoder'}) "
        "WHERE (h)-[:wasStartedBy*1..10]->(:WorkflowRun {id: $run}) AND u.role <> 'model' "
        "RETURN e.shape AS shape, e.dtype AS dtype",
        {"run": run},
    )
    assert [(f["shape"], f["dtype"]) for f in flows] == [("[3,8]", "torch.float32")] * 2
    tasks = any_backend.read(
        "MATCH (t:Task {name: 'Net.head'}) WHERE (t)-[:wasStartedBy*1..10]->(:WorkflowRun {id: $run}) "
        "RETURN t.kind AS kind, t.module_path AS path, t.module_class AS cls, t.depth AS depth",
        {"run": run},
    )
    assert (
        tasks
        == [{"kind": "module_forward", "path": "head", "cls": "torch.nn.modules.linear.Linear", "depth": 1}]
        * 2
    )

    # Profile: the model and its direct children, the model a collection of them.
    graph = [row for row in edges(any_backend, run) if row["t"].startswith(model)]
    structure = {
        (row["s"], row["type"], row["t"], row["props"].get("role"))
        for row in graph
        if row["type"] == "hadMember" or row["s"].startswith("pgid:file_")
    }
    # Each forward's output tensor is derived from its module (and from its input tensor).
    derived = Counter(
        row["t"] for row in graph if row["type"] == "wasDerivedFrom" and row["s"].startswith("pgid:val_")
    )
    assert derived == Counter({model: 2, f"{model}.encoder": 2, f"{model}.head": 2})
    checkpoint = next(s for s, kind, _t, _r in structure if kind == "wasDerivedFrom")
    # the checkpoint's generation is its own entity (pgid:file_<process>_<n>), a specialisation of its content's
    assert checkpoint.startswith("pgid:file_") and not checkpoint.startswith("pgid:file_sha256_")
    (content,) = [
        row["t"]
        for row in edges(any_backend, run)
        if row["s"] == checkpoint and row["type"] == "specializationOf"
    ]
    assert content.startswith("pgid:file_sha256_")
    assert structure == {
        (model, "hadMember", f"{model}.encoder", None),
        (model, "hadMember", f"{model}.head", None),
        (checkpoint, "wasDerivedFrom", model, None),
    }
    profile = {
        r["id"]: r
        for r in any_backend.read(
            "MATCH (m:Model) WHERE m.id STARTS WITH $model RETURN m.id AS id, m.parameters AS parameters, "
            "m.parameter_shapes AS shapes, m.dtypes AS dtypes, m.devices AS devices, m.class AS cls, "
            "'Collection' IN labels(m) AS collection",
            {"model": model},
        )
    }
    assert set(profile) == {model, f"{model}.encoder", f"{model}.head"}
    assert (profile[model]["parameters"], profile[model]["collection"]) == (49, True)
    head = profile[f"{model}.head"]
    assert (head["parameters"], json.loads(head["shapes"]), head["dtypes"], head["devices"]) == (
        9,
        {"weight": [1, 8], "bias": [1]},
        "torch.float32",
        "cpu",
    )
    (generated,) = any_backend.read(
        "MATCH (f:File {id: $file})-[g:wasGeneratedBy]->(a:Activity) WHERE g.doc = $run "
        "RETURN g.role AS role, a.id AS by",
        {"file": checkpoint, "run": run},
    )
    assert generated == {"role": "checkpoint", "by": run}
